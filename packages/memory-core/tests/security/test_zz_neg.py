from memory_core import SelfLearningMemory
import sys
sys.path.insert(0, "/work/main/packages/memory-core/tests/security")
def test_neg(durable, key, tmp_path, monkeypatch):
    monkeypatch.setattr(SelfLearningMemory, "_sensitive", lambda self, t, ids: False)
    from test_encryption import test_no_plaintext_in_raw_libsql_wal_and_lmdb_files as t
    t(durable, key, tmp_path)
