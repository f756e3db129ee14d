"""Test utilities shared by the selfmem packages' tests and benchmarks."""

from memory_test_utils.redis import RedisServer, redis_server_binary

__all__ = ["RedisServer", "redis_server_binary"]
