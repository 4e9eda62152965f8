import pytest
import torch

from granlib.bench import peer

needs_peer = pytest.mark.skipif(not (peer.PEER_DIR / "models" / "dcgan.py").is_file(),
                                reason=f"the GN-GAN code is not fetched into {peer.PEER_DIR}")


def test_missing_peer_code_is_named_with_where_to_put_it(tmp_path):
    with pytest.raises(peer.PeerCodeMissingError, match="GNGAN-PyTorch"):
        peer.GNGANStep(tmp_path)
    assert peer.peer_commit(tmp_path) is None  # not a git checkout


@needs_peer
def test_their_step_trains_their_nets_without_touching_sys_path():
    import sys

    before = list(sys.path)
    torch.manual_seed(0)
    step = peer.GNGANStep(batch_size_d=2, batch_size_g=2)
    assert sys.path == before and "utils" not in sys.modules and "losses" not in sys.modules
    d_before = [p.detach().clone() for p in step.net_D.parameters()]
    g_before = [p.detach().clone() for p in step.net_G.parameters()]
    loss = step.iteration(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert loss > 0  # their BCE-with-logits loss of real and fake
    assert all(not torch.equal(a, b) for a, b in zip(d_before, step.net_D.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(g_before, step.net_G.parameters()))
    assert sum(p.numel() for p in step.net_D.parameters()) == 5_860_865  # granlib's reference-code CNN32 D
    assert len(peer.peer_commit(peer.PEER_DIR)) == 40
