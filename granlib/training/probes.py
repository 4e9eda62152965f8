"""What the stats lines log of D on fixed probes: real images and G's images of fixed codes.

Per set s ∈ {real, generated}, with n = ‖∇ₓf‖ (f: D's raw net) and g = D(x) (n held, as in the generator step):

* ``n_median[s]``, ``f_abs_mean[s]``, ``g_mean[s]``, ``g_abs_mean[s]``, ``grad_g_mean[s]`` (‖∇ₓg‖);
* ``n2_over_eps_median[s]``: the median of n²/ε for D built on GraN's R (ε as D uses it: ε_t for the scale-free
  form): below 1, g ≈ K·f·n/ε and D sits in the ε-dominated regime;
* ``trap_share[s]``: the share of the set's probes whose n is below 1/:data:`TRAP_FACTOR` of the *other* set's
  median n. R(n) = n/(n²+ε) → 0 as n → 0, so where D is nearly flat g vanishes whatever f is and neither D's
  parameter gradient (∝ n/ε) nor G's input gradient (∝ K·n²/(n²+ε)) can move those samples: the flat-region trap;
* ``diversity[s]``: the mean over pixels of the standard deviation across the set's images (0 when every image
  is the same: a collapsed generator).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from granlib.gran import at_least_float32, effective_eps

PROBE_SETS = ("real", "generated")
# what probe_measures logs per set, as "<measure>[<set>]" (the module docstring says what each is)
PER_SET_MEASURES = ("n_median", "f_abs_mean", "g_mean", "g_abs_mean", "grad_g_mean", "n2_over_eps_median",
                    "trap_share", "diversity")
PROBE_FIELDS = tuple(f"{measure}[{name}]" for name in PROBE_SETS for measure in PER_SET_MEASURES)
TRAP_FACTOR = 100  # a probe is in a flat region when its n is 100× below the other set's median n


def sample_diversity(images: Tensor) -> float:
    """Mean over pixels of the standard deviation across images: 0 when every image is the same."""
    return float(images.flatten(1).std(dim=0).mean())


def trap_shares(n_real: Tensor, n_generated: Tensor, factor: float = TRAP_FACTOR) -> dict[str, float]:
    """Per set, the share of its n below 1/``factor`` of the other set's median n."""
    return {"real": float((n_real < n_generated.median() / factor).float().mean()),
            "generated": float((n_generated < n_real.median() / factor).float().mean())}


def probe_measures(disc: nn.Module, reals: Tensor, fakes: Tensor) -> dict[str, float]:
    """The module docstring's measures of ``disc`` on ``reals`` and ``fakes`` (one batch, as D sees a D step's),
    plus ``grad_f_*``/``grad_d_*`` mean and max over both sets."""
    x = torch.cat([reals, fakes]).detach().requires_grad_(True)
    f = disc.raw(x)
    (grad_f,) = torch.autograd.grad(f.sum(), x)
    n = grad_f.flatten(1).norm(dim=1)
    x = x.detach().requires_grad_(True)
    g = disc(x, generator_step=True)
    (grad_g,) = torch.autograd.grad(g.sum(), x)
    grad_g = grad_g.flatten(1).norm(dim=1)
    f, g = at_least_float32(f.detach()), at_least_float32(g.detach())
    gran = getattr(disc, "gran", None)  # D built on R(n): its ε, as it applies it to this batch
    eps = effective_eps(n, gran.eps, gran.variant) if gran is not None and gran.variant != "gn" else None
    parts = {"real": slice(0, len(reals)), "generated": slice(len(reals), None)}
    record = {"grad_f_mean": n.mean().item(), "grad_f_max": n.max().item(), "grad_d_mean": grad_g.mean().item(),
              "grad_d_max": grad_g.max().item()}
    images = {"real": reals, "generated": fakes}
    for name, part in parts.items():
        record.update({f"n_median[{name}]": n[part].median().item(),
                       f"f_abs_mean[{name}]": f[part].abs().mean().item(),
                       f"g_mean[{name}]": g[part].mean().item(), f"g_abs_mean[{name}]": g[part].abs().mean().item(),
                       f"grad_g_mean[{name}]": grad_g[part].mean().item(),
                       f"n2_over_eps_median[{name}]": None if eps is None else (n[part] ** 2 / eps).median().item(),
                       f"diversity[{name}]": sample_diversity(at_least_float32(images[name]))})
    shares = trap_shares(n[parts["real"]], n[parts["generated"]])
    record.update({f"trap_share[{name}]": share for name, share in shares.items()})
    return record
