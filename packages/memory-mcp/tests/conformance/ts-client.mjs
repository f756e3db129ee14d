// A second, independent MCP client: the official TypeScript SDK lists the tools of a
// running memory-mcp over streamable HTTP and calls create_episode, then get_episode
// (structured results without a listed output schema, as the core profile serves them).
// Usage: node ts-client.mjs http://127.0.0.1:PORT/mcp   (exits non-zero on any failure)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = process.argv[2];
if (!url) {
  console.error("usage: node ts-client.mjs <server url>");
  process.exit(2);
}

function check(condition, message) {
  if (!condition) {
    console.error(`ts-client: FAIL: ${message}`);
    process.exit(1);
  }
}

const client = new Client({ name: "memory-mcp-ts-check", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));

const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
for (const expected of ["create_episode", "add_episode_step", "complete_episode", "query_memory"]) {
  check(names.includes(expected), `tools/list lacks ${expected}: ${names.join(", ")}`);
}
const create = tools.find((t) => t.name === "create_episode");
check(create.inputSchema?.properties?.task_description, "create_episode has no task_description");
// The default (core) profile lists no output schemas (they cost an agent's context); the
// results are still structured, and this SDK must take them without one.
check(create.outputSchema === undefined, "the core profile lists an outputSchema");

const created = await client.callTool({
  name: "create_episode",
  arguments: { task_description: "TypeScript SDK smoke test", domain: "ci", task_type: "testing" },
});
check(!created.isError, `create_episode failed: ${JSON.stringify(created.content)}`);
const episodeId = created.structuredContent?.episode_id;
check(typeof episodeId === "string", "create_episode returned no episode_id");

const got = await client.callTool({ name: "get_episode", arguments: { episode_id: episodeId } });
check(!got.isError && got.structuredContent?.context?.domain === "ci", "get_episode did not return it");

const bad = await client.callTool({ name: "delete_episode", arguments: { episode_id: episodeId } });
check(bad.isError === true, "delete_episode without confirm must be a tool error");

console.log(`ts-client: OK (${names.length} tools, episode ${episodeId})`);
await client.close();
