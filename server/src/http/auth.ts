import { createHash, timingSafeEqual } from "node:crypto";
import { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./respond";

/**
 * The checks `/api` and `/events` make before anything else: no cross-site callers (a request
 * with an Origin other than this server's is refused, and no CORS headers are ever sent), then the
 * bearer token, compared in constant time. Answers the refusal itself and returns false.
 */
export function bearerCheck(token: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = digest(token);
  return (req, res) => {
    const { origin, host } = req.headers;
    // The scheme is either: through a TLS tunnel (--allowed-host) a page here is https.
    if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
      sendJson(res, 403, { errors: [{ message: `Requests from ${origin} are refused: the API answers this server's own pages and non-browser clients` }] });
      return false;
    }
    const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
    if (!given || !timingSafeEqual(digest(given), expected)) {
      sendJson(res, 401, { errors: [{ message: given ? "Invalid token" : "Missing token: send Authorization: Bearer <token> (refract serve prints it)" }] }, { "www-authenticate": "Bearer" });
      return false;
    }
    return true;
  };
}

/**
 * This server as the caller reaches it, for the URLs it hands out: `http://<Host>`, or
 * `https://<Host>` behind a TLS tunnel (`--allowed-host`), as a page's Origin there says (or a
 * proxy's X-Forwarded-Proto). The Host has passed the allowlist before this is asked.
 */
export function serverOrigin(req: IncomingMessage): string {
  const host = req.headers.host;
  return req.headers.origin === `https://${host}` || req.headers["x-forwarded-proto"] === "https" ? `https://${host}` : `http://${host}`;
}

/** Both sides hashed first, so the comparison takes the same time whatever the given token's length. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
