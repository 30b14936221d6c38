import { GraphQLError, GraphQLScalarType, GraphQLSchema, Kind } from "graphql";
import { ApiContext, ApiResolvers, isoTime, properties } from "./context";
import { directoryResolvers } from "./directory";
import { executionResolvers } from "./executions";
import { logResolvers } from "./logs";
import { mutationResolvers } from "./mutations";
import { servedSchema } from "./schema";

export type { ApiContext };

/** Every connection type of the served schema: the same shape, from `connection()`. */
const CONNECTIONS = ["Expression", "Customer", "Instance", "InstanceConfigVariable", "InstanceFlowConfig", "Integration", "IntegrationFlow", "InstanceExecutionResult", "InstanceStepResult", "Log", "ExecutionSection"];

/**
 * Each page is at most 1,000 items, but a list asked for inside another list's items runs once per
 * item: `executionResults { nodes { instance { executionResults … } } }` three deep asked for a
 * billion and ran the server out of memory. So a request gets this many items in all, its lists
 * together, and an error past that.
 */
export const MAX_ITEMS = 100_000;

function charged<T>(ctx: ApiContext, items: T[]): T[] {
  ctx.items += items.length;
  if (ctx.items > MAX_ITEMS) throw new GraphQLError(`The request asks for more than ${MAX_ITEMS} list items in all (a list inside a list's items runs once per item); ask for fewer, or page`);
  return items;
}

function connectionResolvers(): ApiResolvers {
  const out: ApiResolvers = { PageInfo: properties("hasNextPage", "hasPreviousPage", "startCursor", "endCursor") };
  for (const type of CONNECTIONS) {
    out[`${type}Connection`] = {
      pageInfo: (c: any) => c.pageInfo,
      nodes: (c: any, _args: unknown, ctx: ApiContext) => charged(ctx, c.nodes),
      edges: (c: any, _args: unknown, ctx: ApiContext) => charged(ctx, c.edges),
      totalCount: (c: any) => (typeof c.totalCount === "function" ? c.totalCount() : c.totalCount),
    };
    out[`${type}Edge`] = properties("node", "cursor");
  }
  return out;
}

/** The API's schema with its resolvers (prismatic-api/contract.graphql + runner-extensions.graphql, pruned). */
export function apiSchema(): GraphQLSchema {
  const resolvers = connectionResolvers();
  for (const part of [directoryResolvers, executionResolvers, logResolvers, mutationResolvers]) {
    for (const [type, fields] of Object.entries(part)) resolvers[type] = { ...resolvers[type], ...fields };
  }
  const schema = servedSchema(resolvers);
  dateTime(schema.getType("DateTime") as GraphQLScalarType);
  return schema;
}

/** DateTime: ISO-8601 strings out and in (context.ts `isoTime`). */
function dateTime(scalar: GraphQLScalarType): void {
  const parse = (value: unknown) => {
    if (Number.isNaN(isoTime(value))) throw new TypeError(`DateTime cannot represent ${JSON.stringify(value)}: not an ISO-8601 date-time`);
    return value;
  };
  scalar.parseValue = parse;
  scalar.parseLiteral = (ast) => parse(ast.kind === Kind.STRING ? ast.value : undefined);
}
