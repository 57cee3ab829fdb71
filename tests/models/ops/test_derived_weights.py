"""DerivedWeights: a value derived from tensors is kept while they are the same, unchanged tensors."""

import copy
import pickle

import torch

from swinseg.models.ops.derived_weights import DerivedWeights


class _Counting:
    def __init__(self, weight: torch.Tensor):
        self.weight, self.calls = weight, 0

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        return self.weight * 2


def test_kept_until_a_source_changes_in_place_or_is_replaced() -> None:
    derived, make = DerivedWeights(), _Counting(torch.ones(3))
    with torch.no_grad():
        first = derived.get("w", [make.weight, None], make)
        assert derived.get("w", [make.weight, None], make) is first and make.calls == 1
        make.weight.add_(1)  # in place: the version moves
        torch.testing.assert_close(derived.get("w", [make.weight], make), torch.full((3,), 4.0))
        assert make.calls == 2
        make.weight = torch.ones(3)  # another tensor with the same values and version
        derived.get("w", [make.weight], make)
        assert make.calls == 3


def test_not_kept_under_autograd_nor_for_inference_tensors() -> None:
    derived, make = DerivedWeights(), _Counting(torch.ones(3, requires_grad=True))
    derived.get("w", [make.weight], make)
    derived.get("w", [make.weight], make)
    assert make.calls == 2  # made afresh, so that gradients flow to the weight
    with torch.inference_mode():
        frozen = _Counting(torch.ones(3))
        derived.get("f", [frozen.weight], frozen)
        frozen.weight.mul_(3)  # an inference tensor has no version to tell this change by
        torch.testing.assert_close(derived.get("f", [frozen.weight], frozen), torch.full((3,), 6.0))
    assert frozen.calls == 2


def test_copies_start_empty() -> None:
    derived, make = DerivedWeights(), _Counting(torch.ones(3))
    with torch.no_grad():
        derived.get("w", [make.weight], make)
    for other in (copy.deepcopy(derived), pickle.loads(pickle.dumps(derived))):
        with torch.no_grad():
            other.get("w", [make.weight], make)
    assert make.calls == 3
