"""The prompt that teaches an agent the loop: query before, log during, complete after."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

# One source for the server's instructions: the stdio front sends them before the SDK
# has loaded (see _handshake.py).
from memory_mcp._handshake import INSTRUCTIONS

__all__ = ["INSTRUCTIONS", "register_prompts", "workflow_text"]


def workflow_text(task: str, domain: str | None = None) -> str:
    where = f" in the {domain} domain" if domain else ""
    domain_arg = f', domain="{domain}"' if domain else ""
    return f"""\
You are about to work on this task{where}:

    {task}

Use the memory server around it:

1. Before you start, call `query_memory(query=<the task>{domain_arg})`. Read the past
   episodes (especially their verdicts and key steps), the patterns with a high success
   rate and confidence, and the heuristics. Prefer approaches that worked; avoid the
   steps that failed.
2. Call `create_episode(task_description=<the task>{domain_arg}, task_type=...)` and keep
   the returned `episode_id`.
3. After each meaningful action (reading code, editing, running tests, a command),
   call `add_episode_step(episode_id, tool=..., action=..., result={{"type": "success",
   "output": ...}})`, or `{{"type": "error", "message": ...}}` when it failed. Several
   steps at once go in `steps=[...]`.
4. When you are done, call `complete_episode(episode_id, outcome_type=...)`:
   `success` with a `verdict` and `artifacts`, `partial_success` with `completed` and
   `failed` lists, or `failure` with a `reason`.
5. If you applied a pattern from step 1, report whether it helped:
   `record_pattern_outcome(pattern_id, episode_id, success)`.
"""


def register_prompts(server: MCPServer) -> None:
    @server.prompt(
        name="memory_workflow",
        title="Use memory around a task",
        description="How to use the memory before, during and after a task.",
    )
    def memory_workflow(task: str, domain: str | None = None) -> str:
        return workflow_text(task, domain)
