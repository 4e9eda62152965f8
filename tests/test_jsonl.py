import multiprocessing
import time

import pytest

from granlib.jsonl import LockHeldError, append_jsonl, exclusive_lock, read_jsonl, read_lines


def test_appended_records_read_back_and_a_torn_line_is_skipped_naming_it(tmp_path):
    path = tmp_path / "deep" / "folder" / "x.jsonl"
    append_jsonl(path, {"step": 1})
    append_jsonl(path, {"step": 2, "text": "a | b"})
    with path.open("a") as handle:
        handle.write('{"step": 3, "cut')
    with pytest.warns(UserWarning, match=r"x\.jsonl:3 is not a complete JSON line"):
        assert [number for number, _ in read_lines(path)] == [1, 2]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_an_append_after_a_torn_line_starts_a_new_line_and_both_whole_records_read_back(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_jsonl(path, {"run": 1})
    with path.open("a") as handle:  # a kill while a record was being written leaves a line without its newline
        handle.write('{"run": 2, "fd": 1')
    append_jsonl(path, {"run": 3})
    append_jsonl(path, {"run": 4})
    with pytest.warns(UserWarning, match=r"rows\.jsonl:2 is not a complete JSON line"):
        assert read_jsonl(path) == [{"run": 1}, {"run": 3}, {"run": 4}]
    assert path.read_text().endswith('{"run": 4}\n')


def test_a_held_lock_refuses_naming_its_holder_and_is_free_again_after(tmp_path):
    lock = tmp_path / ".lock"
    with exclusive_lock(lock, "the thing"):
        with pytest.raises(LockHeldError, match=r"the thing is held by pid \d+ on .* since"):
            with exclusive_lock(lock, "the thing"):
                pass
    with exclusive_lock(lock, "the thing"):
        pass


def _hold(lock: str, seconds: float) -> None:
    with exclusive_lock(lock, "held"):
        time.sleep(seconds)


def test_waiting_for_a_lock_queues_behind_the_holder(tmp_path):
    lock = str(tmp_path / ".lock")
    holder = multiprocessing.get_context("fork").Process(target=_hold, args=(lock, 1.0))
    holder.start()
    time.sleep(0.3)  # the child holds it now
    started = time.perf_counter()
    with exclusive_lock(lock, "held", wait=True):
        waited = time.perf_counter() - started
    holder.join()
    assert waited > 0.3


def test_a_refusal_waits_a_moment_for_the_holder_to_name_itself(tmp_path):
    """A process refused between the holder's flock and the holder's line still names the holder."""
    import fcntl
    import threading

    lock = tmp_path / ".lock"
    handle = open(lock, "a+")
    fcntl.flock(handle, fcntl.LOCK_EX)  # taken, not yet named

    def name_it():
        handle.write("pid 42 on host since now\n")
        handle.flush()

    threading.Timer(0.2, name_it).start()
    with pytest.raises(LockHeldError, match="is held by pid 42"):
        with exclusive_lock(lock, "the thing"):
            pass
    handle.close()
