import { randomUUID } from "node:crypto";
import * as os from "node:os";

/** Prismatic's global ids are Relay ids: base64("<Type>:<uuid>"). Refract mints them the same way. */
export type NodeType =
  | "Customer"
  | "Instance"
  | "InstanceFlowConfig"
  | "Integration"
  | "IntegrationFlow"
  | "InstanceExecutionResult";

export function newId(type: NodeType): string {
  return Buffer.from(`${type}:${randomUUID()}`).toString("base64");
}

/** The type named inside a global id, or undefined when the string is not one. */
export function idType(id: string): string | undefined {
  const decoded = Buffer.from(id, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? decoded.slice(0, colon) : undefined;
}

/** A global id made from a stable key (a user name, a config variable's key) rather than minted. */
export const globalId = (type: string, key: string): string => Buffer.from(`${type}:${key}`).toString("base64");

/** The one local user: who the API says is signed in, and `context.user` in every execution. */
export function localUser(): { id: string; name: string; email: string } {
  const name = os.userInfo().username;
  return { id: globalId("User", name), name, email: `${name}@${os.hostname()}` };
}
