"""Automatic capture and recall through an agent's own hooks (Claude Code, OpenCode).

``memory hook claude-code`` is what the agent runs on each event. It must cost the agent
nothing, so it never opens the database itself: the event is summarized, redacted and
appended durably to a spool (standard library only, no Typer), and a background
recorder (``python -m memory_cli.hooks serve``), started on demand, ingests the spool
into the memory and answers prompts with relevant past work over a Unix socket.
"""
