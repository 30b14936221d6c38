import { IncomingMessage, STATUS_CODES, ServerResponse } from "node:http";
import { DocumentNode, GraphQLError, ValidationContext, ValidationRule, parse, validate } from "graphql";
import { createHandler } from "graphql-http";
import { ApiContext, apiSchema } from "../api";
import { Runtime } from "../runtime/runtime";
import { bearerCheck, serverOrigin } from "./auth";
import { BlobSigner } from "./blobs";
import { readBody, sendJson } from "./respond";
import type { RequestTarget } from "./server";

/** GraphQL documents and variables are small; test payloads ride in them, so the webhook limit applies. */
export interface ApiOptions {
  token: string;
  blobs: BlobSigner;
  maxBodyBytes: number;
}

/**
 * `/api`: Prismatic's GraphQL API over graphql-http (GET for queries, POST for everything), after
 * three checks of our own: the bearer token (compared in constant time), no cross-site callers
 * (a request with an Origin other than this server's is refused, and no CORS headers are ever
 * sent), and a bounded body. The Host header was checked by the listener.
 */
export function apiEndpoint(runtime: Runtime, options: ApiOptions): ApiEndpoint {
  const authorized = bearerCheck(options.token);
  // Building the schema takes ~80 ms: `serve` has it built while the integration is bundled.
  let handler: ReturnType<typeof createHandler<IncomingMessage, ApiContext, ApiContext>> | null = null;
  const graphql = () =>
    (handler ??= createHandler<IncomingMessage, ApiContext, ApiContext>({ schema: apiSchema(), context: (req) => req.context, validationRules: [limitAliases], ...documentCache() }));
  const endpoint: ApiEndpoint = async (req, res, url) => {
    if (!authorized(req, res)) return;
    const origin = serverOrigin(req);
    const began = performance.now();
    let body: string | null = null;
    if (req.method === "POST") {
      const bytes = await readBody(req, options.maxBodyBytes);
      if (bytes === null) {
        sendJson(res, 413, { errors: [{ message: `The request body is larger than ${options.maxBodyBytes / (1024 * 1024)} MB (--max-body)` }] }, { connection: "close" });
        return void req.resume();
      }
      body = bytes.toString("utf8");
    }
    const [text, init] = await graphql()({
      method: req.method ?? "GET",
      url: url.pathname + url.search,
      headers: req.headers,
      body,
      raw: req,
      context: { runtime, blobs: options.blobs, origin, items: 0 },
    });
    // Server-Timing: what the server spent on the request, body read to answer ready.
    const headers = { ...init.headers, "cache-control": "no-store", "server-timing": `total;dur=${(performance.now() - began).toFixed(2)}` };
    if (text) {
      res.writeHead(init.status, init.statusText, headers);
      return void res.end(text);
    }
    // graphql-http refuses a request it cannot take (method, content type, accepted types) with a status alone.
    sendJson(res, init.status, { errors: [{ message: `${init.statusText ?? STATUS_CODES[init.status]}: ${REFUSALS[init.status] ?? "see the status"}` }] }, headers);
  };
  endpoint.warm = () => void graphql();
  return endpoint;
}

export interface ApiEndpoint {
  (req: IncomingMessage, res: ServerResponse, url: RequestTarget): Promise<void>;
  /** Builds the schema now, so the first request does not wait for it. */
  warm(): void;
}

const REFUSALS: Record<number, string> = {
  405: "/api answers GET for queries and POST for every operation",
  406: "/api answers application/graphql-response+json or application/json",
  415: "POST a JSON body with content-type application/json (UTF-8)",
};

/**
 * Bounds what one document can ask for. A parse stops at MAX_TOKENS; an alias is the only way to
 * ask for one field many times over (fields that share a name merge), so MAX_ALIASES bounds how
 * many times a request can run a costly list field such as `executionResults` or `logs`.
 */
const MAX_TOKENS = 10_000;
const MAX_ALIASES = 30;
/** Documents are cached by text up to this length: the documents clients send are a few KB. */
const MAX_CACHED_DOCUMENT = 16 * 1024;

function limitAliases(context: ValidationContext) {
  let aliases = 0;
  return {
    Field(node: { alias?: unknown }) {
      if (node.alias && ++aliases === MAX_ALIASES + 1) {
        context.reportError(new GraphQLError(`The document has more than ${MAX_ALIASES} aliased fields; ask for fewer in one request`));
      }
    },
  };
}
limitAliases satisfies ValidationRule;

/**
 * Clients send the same few documents again and again (views poll every few seconds), and
 * validating one against this schema costs ~0.4 ms, several times what running a small query
 * does: parsed documents are kept by their text, and validation results by document.
 */
function documentCache(): { parse: typeof parse; validate: typeof validate } {
  const documents = new Map<string, DocumentNode>();
  const validated = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  return {
    parse: (source, options) => {
      const text = typeof source === "string" ? source : source.body;
      let document = documents.get(text);
      if (!document) {
        document = parse(source, { ...options, maxTokens: MAX_TOKENS });
        if (text.length > MAX_CACHED_DOCUMENT) return document;
        if (documents.size >= 1000) documents.delete(documents.keys().next().value!);
        documents.set(text, document);
      }
      return document;
    },
    validate: (s, document, rules, options, typeInfo) => {
      let errors = validated.get(document);
      if (!errors) validated.set(document, (errors = validate(s, document, rules, options, typeInfo)));
      return errors;
    },
  };
}

