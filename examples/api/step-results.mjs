// Fetches an execution's step results and unpacks them, the way Prismatic's docs ("Fetching Step
// Results Programmatically") and its API examples do: graphql-request → executionResult →
// GET each resultsUrl (no auth header: the URL is presigned) → MessagePack decode → {data, contentType}.
// Works unchanged against app.prismatic.io and against `refract serve`:
//
//   PRISMATIC_URL=http://127.0.0.1:7780 PRISMATIC_API_KEY=<token> node examples/api/step-results.mjs <executionId>
import { decode } from "@msgpack/msgpack";
import { GraphQLClient, gql } from "graphql-request";

const [executionId] = process.argv.slice(2);
const { PRISMATIC_URL = "https://app.prismatic.io", PRISMATIC_API_KEY } = process.env;
if (!executionId || !PRISMATIC_API_KEY) {
  console.error("usage: PRISMATIC_URL=… PRISMATIC_API_KEY=… node step-results.mjs <executionId>");
  process.exit(2);
}

const client = new GraphQLClient(`${PRISMATIC_URL}/api`, { headers: { Authorization: `Bearer ${PRISMATIC_API_KEY}` } });
const query = gql`
  query getStepResults($executionId: ID!) {
    executionResult(id: $executionId) {
      id
      stepResults {
        nodes {
          stepName
          resultsUrl
        }
      }
    }
  }
`;

const { executionResult } = await client.request(query, { executionId });
if (!executionResult) {
  console.error(`No execution ${executionId}`);
  process.exit(1);
}
for (const step of executionResult.stepResults.nodes) {
  const response = await fetch(step.resultsUrl);
  if (!response.ok) throw new Error(`GET ${step.stepName} result: HTTP ${response.status}`);
  const { data, contentType } = decode(new Uint8Array(await response.arrayBuffer()));
  // JSON results are stored as JSON text; binary ones as bytes.
  const value = contentType === "application/json" && typeof data === "string" ? JSON.parse(data) : data instanceof Uint8Array ? `<${data.byteLength} bytes>` : data;
  console.log(JSON.stringify({ stepName: step.stepName, contentType, data: value }));
}
