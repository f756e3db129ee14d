// OpenCode plugin: records each OpenCode session as a memory episode and gives each
// prompt the relevant past work, through the same command Claude Code's hooks run
// (`memory hook opencode`, JSON on stdin, hook JSON on stdout).
//
// Install: `memory hooks install opencode` (copies this file to .opencode/plugins/ or
// ~/.config/opencode/plugins/). MEMORY_HOOK_COMMAND overrides the command (default
// `memory`, found on PATH). Nothing here reads files or the environment's values: tool
// calls are passed as their name, the arguments that say what they did (command, path,
// pattern, url; never file contents) and whether they worked; the command redacts
// secrets before anything is written.

import { spawn } from "node:child_process";

const COMMAND = process.env.MEMORY_HOOK_COMMAND || "memory";
// OpenCode tool ids → the tool names the hook knows (Bash runs are checked for tests).
const TOOL_NAMES = {
  bash: "Bash",
  read: "Read",
  edit: "Edit",
  multiedit: "Edit",
  patch: "Edit",
  write: "Write",
  grep: "Grep",
  glob: "Glob",
  list: "LS",
  webfetch: "WebFetch",
  task: "Task",
  todowrite: "TodoWrite",
  todoread: "TodoRead",
};
// OpenCode argument → hook tool_input key; every other argument is left out.
const ARGUMENTS = {
  command: "command",
  description: "description",
  filePath: "file_path",
  path: "path",
  pattern: "pattern",
  url: "url",
  query: "query",
  subagent_type: "subagent_type",
};
const OUTPUT_TAIL = 2000; // the hook keeps only a last line; send no more than this

let warned = false;

/** Run the hook once; resolves with its stdout ("" on any failure: never break OpenCode). */
function runHook(payload) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(COMMAND, ["hook", "opencode"], { stdio: ["pipe", "pipe", "pipe"] });
    } catch (error) {
      warn(error);
      resolve("");
      return;
    }
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
    child.on("error", (error) => {
      warn(error);
      resolve("");
    });
    child.on("close", () => {
      if (stderr) warn(stderr.trim());
      resolve(stdout);
    });
    child.stdin.on("error", () => {});
    child.stdin.end(JSON.stringify(payload));
  });
}

function warn(message) {
  if (warned) return;
  warned = true;
  console.error(`memory plugin: ${message}`);
}

function toolInput(args) {
  const input = {};
  if (args && typeof args === "object") {
    for (const [from, to] of Object.entries(ARGUMENTS)) {
      if (typeof args[from] === "string") input[to] = args[from];
    }
  }
  return input;
}

function toolEvent(base, part) {
  const state = part.state;
  const event = {
    ...base,
    session_id: part.sessionID,
    tool_name: TOOL_NAMES[part.tool] || part.tool,
    tool_input: toolInput(state.input),
    tool_use_id: part.callID,
  };
  if (state.status === "error") {
    return { ...event, hook_event_name: "PostToolUseFailure", error: String(state.error || "") };
  }
  const response = { stdout: String(state.output || "").slice(-OUTPUT_TAIL) };
  const exit = state.metadata && state.metadata.exit;
  if (typeof exit === "number") response.exit_code = exit;
  return { ...event, hook_event_name: "PostToolUse", tool_response: response };
}

function additionalContext(stdout) {
  try {
    const context = JSON.parse(stdout).hookSpecificOutput.additionalContext;
    return typeof context === "string" ? context : "";
  } catch {
    return "";
  }
}

export const MemoryPlugin = async ({ directory }) => {
  const base = { cwd: directory };
  // One hook call at a time, in the order OpenCode reported them: the memory reads a
  // session as prompt → steps → end of turn.
  let queue = Promise.resolve("");
  const send = (payload) => {
    const result = queue.then(() => runHook({ ...base, ...payload }));
    queue = result.catch(() => "");
    return result;
  };
  const contexts = new Map(); // session → what the last prompt recalled
  const recorded = new Set(); // tool calls already sent

  return {
    event: async ({ event }) => {
      const props = event.properties || {};
      if (event.type === "session.created" && props.info) {
        send({ session_id: props.info.id, hook_event_name: "SessionStart", source: "startup" });
      } else if (event.type === "session.idle") {
        send({ session_id: props.sessionID, hook_event_name: "Stop" });
      } else if (event.type === "session.deleted" && props.info) {
        send({ session_id: props.info.id, hook_event_name: "SessionEnd", reason: "deleted" });
        contexts.delete(props.info.id);
      } else if (event.type === "message.part.updated") {
        const part = props.part;
        if (!part || part.type !== "tool" || recorded.has(part.callID)) return;
        if (part.state.status !== "completed" && part.state.status !== "error") return;
        recorded.add(part.callID);
        // A prompt's recall that came too late for its own call comes with the next
        // tool call's output: from then on the system prompt carries it.
        send(toolEvent(base, part)).then((stdout) => {
          const context = additionalContext(stdout);
          if (context) contexts.set(part.sessionID, context);
        });
      }
    },
    "chat.message": async (input, output) => {
      const prompt = output.parts
        .filter((part) => part.type === "text" && !part.synthetic && !part.ignored)
        .map((part) => part.text)
        .join("\n")
        .trim();
      if (!prompt) return;
      const stdout = await send({
        session_id: input.sessionID,
        hook_event_name: "UserPromptSubmit",
        prompt,
      });
      const context = additionalContext(stdout);
      if (context) contexts.set(input.sessionID, context);
      else contexts.delete(input.sessionID);
    },
    "experimental.chat.system.transform": async (input, output) => {
      const context = input.sessionID && contexts.get(input.sessionID);
      if (context) output.system.push(context);
    },
    // Let the hook calls still queued finish before OpenCode exits.
    dispose: async () => {
      await queue;
    },
  };
};
