import hashlib

from granlib.files import sha256_of


def test_sha256_of_a_file_larger_than_one_block(tmp_path):
    data = bytes(range(256)) * 5000  # 1.28 MB: two blocks
    (tmp_path / "f").write_bytes(data)
    assert sha256_of(tmp_path / "f") == hashlib.sha256(data).hexdigest()
