import * as fs from "node:fs";
import * as path from "node:path";
import {
  DefinitionNode,
  DocumentNode,
  GraphQLFieldResolver,
  GraphQLObjectType,
  GraphQLSchema,
  Kind,
  TypeNode,
  buildASTSchema,
  parse,
} from "graphql";

/** Resolvers by type and field. A field of the SDL without one is not served. */
export type Resolvers<Context> = Record<string, Record<string, GraphQLFieldResolver<any, Context, any>>>;

/**
 * The served schema: `contract.graphql` extended by `runner-extensions.graphql`
 * (protocol/prismatic-api), pruned to what Refract implements. A field stays only when it has a
 * resolver, an object type only when it keeps a field, and then every type no kept field or
 * argument reaches goes, so nothing in the served schema answers with invented data
 * (issue 4 §5). Arguments of a kept field all stay: each one works.
 */
export function servedSchema<Context>(resolvers: Resolvers<Context>): GraphQLSchema {
  const document = prune(sdl(), resolvers);
  const schema = buildASTSchema(document);
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName);
    if (!(type instanceof GraphQLObjectType)) throw new Error(`Resolvers for ${typeName}, which is not an object type of the schema`);
    const served = type.getFields();
    for (const [name, resolve] of Object.entries(fields)) {
      if (!served[name]) throw new Error(`A resolver for ${typeName}.${name}, which the schema does not have`);
      served[name].resolve = resolve;
    }
  }
  return schema;
}

/** The two SDL files as one document. */
export function sdl(): DocumentNode {
  const dir = sdlFolder();
  const read = (file: string) => parse(fs.readFileSync(path.join(dir, file), "utf8"), { noLocation: true }).definitions;
  return { kind: Kind.DOCUMENT, definitions: [...read("contract.graphql"), ...read("runner-extensions.graphql")] };
}

/** protocol/prismatic-api, found from this file in the sources (tests) and in dist/ (the bundle). */
function sdlFolder(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, "protocol", "prismatic-api");
    if (fs.existsSync(path.join(candidate, "contract.graphql"))) return candidate;
  }
  throw new Error(`protocol/prismatic-api/contract.graphql is not above ${__dirname}`);
}

type Named = DefinitionNode & { name: { value: string } };

function prune(document: DocumentNode, resolvers: Resolvers<any>): DocumentNode {
  // 1. Object types (and their extensions) keep the fields that have resolvers.
  const kept: DefinitionNode[] = [];
  for (const def of document.definitions) {
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) {
      const served = resolvers[def.name.value] ?? {};
      const fields = (def.fields ?? []).filter((f) => served[f.name.value]);
      if (fields.length) kept.push({ ...def, fields });
    } else {
      kept.push(def);
    }
  }
  // 2. Types that the roots cannot reach go (an extension goes with its type).
  const byName = new Map<string, Named[]>();
  for (const def of kept) {
    if (!("name" in def) || !def.name) continue;
    const name = (def as Named).name.value;
    byName.set(name, [...(byName.get(name) ?? []), def as Named]);
  }
  const reached = new Set<string>();
  const visit = (name: string) => {
    if (reached.has(name)) return;
    reached.add(name);
    for (const def of byName.get(name) ?? []) {
      if ("interfaces" in def) for (const i of def.interfaces ?? []) visit(i.name.value);
      if ("fields" in def) {
        for (const f of def.fields ?? []) {
          visit(namedType(f.type));
          if ("arguments" in f) for (const a of f.arguments ?? []) visit(namedType(a.type));
        }
      }
    }
  };
  visit("RootQuery");
  visit("RootMutation");
  return {
    kind: Kind.DOCUMENT,
    definitions: kept.filter((def) => def.kind === Kind.SCHEMA_DEFINITION || ("name" in def && def.name && reached.has(def.name.value))),
  };
}

function namedType(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type);
}
