"""Test utilities shared by the selfmem packages' tests and benchmarks."""

from memory_test_utils.mcp_server import (
    MEMORY_MCP,
    ServerProcess,
    StderrLog,
    StdioLines,
    await_line,
    clean_env,
    drain_stderr,
    server_env,
    start_http_server,
    start_http_servers,
    wire_tools_list,
)
from memory_test_utils.redis import RedisServer, redis_server_binary

__all__ = [
    "MEMORY_MCP",
    "RedisServer",
    "ServerProcess",
    "StderrLog",
    "StdioLines",
    "await_line",
    "clean_env",
    "drain_stderr",
    "redis_server_binary",
    "server_env",
    "start_http_server",
    "start_http_servers",
    "wire_tools_list",
]
