import { GraphQLError, GraphQLScalarType, GraphQLSchema, Kind } from "graphql";
import { ApiContext, ApiResolvers, ISO_EXPECTED, charge, isoTime, properties } from "./context";
import { directoryResolvers } from "./directory";
import { executionResolvers } from "./executions";
import { logResolvers } from "./logs";
import { mutationResolvers } from "./mutations";
import { servedSchema } from "./schema";

export type { ApiContext };

/** Every connection type of the served schema: the same shape, from `connection()`. */
const CONNECTIONS = ["Expression", "Customer", "Instance", "InstanceConfigVariable", "InstanceFlowConfig", "Integration", "IntegrationFlow", "InstanceExecutionResult", "InstanceStepResult", "Log", "ExecutionSection"];

function charged<T>(ctx: ApiContext, items: T[]): T[] {
  charge(ctx, items.length);
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
    if (Number.isNaN(isoTime(value))) throw new TypeError(`DateTime cannot represent ${JSON.stringify(value)}: not ${ISO_EXPECTED}`);
    return value;
  };
  scalar.parseValue = parse;
  scalar.parseLiteral = (ast) => parse(ast.kind === Kind.STRING ? ast.value : undefined);
}
