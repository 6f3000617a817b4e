"""The VJ world feeds the shared trainer: clips come from the rolling bank, a palette switch is
an exact cut between the two palettes' latents (the codec is per frame), and the bank refreshes."""

import random

import torch
from safetensors.torch import save_file

from sfe_live.demo.train import TrainingWorld
from sfe_live.model.aecodec import AECodec, AECodecConfig
from sfe_live.vj import world as W
from sfe_live.vj.train import CLIP_FRAMES, VJWorld, dit_config, load_codec


def _world(tmp_path, bank=3):
    torch.manual_seed(0)
    codec = AECodec(AECodecConfig(z_dim=4, width=8))
    path = tmp_path / "codec.safetensors"
    save_file({k: v.contiguous() for k, v in codec.state_dict().items()}, str(path))
    world = VJWorld(path, bank=bank, refresh=1, seed=0)
    return world, world.make_codec(None)


def test_vj_world_is_a_training_world_with_a_frozen_codec(tmp_path):
    world, codec = _world(tmp_path)
    assert isinstance(world, TrainingWorld)
    assert not any(p.requires_grad for p in codec.parameters())
    assert len(world.bank) == 3
    meta = world.model_meta(dit_config(), codec)
    assert meta["vae"]["kind"] == "ae" and meta["height"] == W.SIZE and meta["dit"]["text_len"] == 32
    assert (W.SIZE // codec.config.spatial_factor) % dit_config().patch_size[1] == 0


def test_switch_is_an_exact_cut_between_palettes(tmp_path):
    world, codec = _world(tmp_path, bank=1)
    world.refresh = 0
    lab, lab2, za, zb = world.bank[0]
    z, labs, labs2, wgt = world.clip_batch(random.Random(1), codec, 2, 9, switch_at=4)
    assert z.shape == (2, 9, 4, W.SIZE // 8, W.SIZE // 8) and wgt.shape == z.shape
    assert labs == [lab, lab] and labs2 == [lab2, lab2] and lab2.palette != lab.palette
    # find the offset: the first 4 frames come from palette A, the rest from palette B
    offs = [o for o in range(CLIP_FRAMES - 9 + 1) if torch.equal(z[0, :4], za[o:o + 4].float())]
    assert offs and torch.equal(z[0, 4:], zb[offs[0] + 4:offs[0] + 9].float())


def test_bank_refreshes_every_batch(tmp_path):
    world, codec = _world(tmp_path, bank=2)
    before = [id(b) for b in world.bank]
    world.clip_batch(random.Random(2), codec, 1, 3)
    assert [id(b) for b in world.bank] != before


def test_load_codec_reads_its_geometry(tmp_path):
    world, codec = _world(tmp_path)
    again = load_codec(tmp_path / "codec.safetensors")
    assert again.config == codec.config


def test_warm_start_copies_what_matches_and_resume_keeps_the_folders_patch(tmp_path):
    """A finer patch starts from the coarser model's transformer: every same-shaped tensor is copied,
    the patch embedding and head (shaped by the patch) keep their init; --resume reads the folder's
    own config back, so a run never reloads weights into a differently patched model."""
    import json

    from sfe_live.demo.train import copy_matching
    from sfe_live.model.dit import CausalWanDiT
    from sfe_live.vj.train import saved_dit_config
    torch.manual_seed(0)
    coarse, fine = CausalWanDiT(dit_config(3)), CausalWanDiT(dit_config(2))
    before = {k: v.clone() for k, v in fine.state_dict().items()}
    fresh = copy_matching(fine, coarse.state_dict())
    assert fresh == ["head.head.bias", "head.head.weight", "patch_embedding.weight"]
    after = fine.state_dict()
    for k, v in coarse.state_dict().items():
        if k not in fresh:
            assert torch.equal(after[k], v)
    assert all(torch.equal(after[k], before[k]) for k in fresh)
    assert saved_dit_config(tmp_path) is None
    (tmp_path / "train_meta.json").write_text(json.dumps({"dit": dit_config(3).to_dict()}))
    assert saved_dit_config(tmp_path) == dit_config(3) and dit_config(3) != dit_config()


def test_a_deeper_model_grown_from_a_shallower_one_starts_as_it_exactly():
    """--layers 6 --init-from a 4-block model: blocks 4-5 are copies of blocks 0-1 with their residual
    outputs zeroed, so the deeper model's prediction equals the source's to the last bit of float
    noise; one optimiser step then moves the new blocks (they are not dead)."""
    from sfe_live.demo.train import RESIDUAL_OUTPUTS, copy_matching, grow_blocks
    from sfe_live.model.dit import CausalWanDiT
    torch.manual_seed(0)
    src, deep = CausalWanDiT(dit_config(2, 4)).eval(), CausalWanDiT(dit_config(2, 6)).eval()
    sd = src.state_dict()
    assert copy_matching(deep, sd) == sorted(k for k in deep.state_dict() if k.startswith(("blocks.4.", "blocks.5.")))
    assert grow_blocks(deep, sd) == [4, 5]
    assert torch.equal(deep.blocks[5].self_attn.q.weight, src.blocks[1].self_attn.q.weight)
    x, t = torch.randn(1, 3, 16, 12, 12), torch.full((1,), 500.0)
    ctx = torch.randn(1, 32, 384)
    with torch.no_grad():
        a, b = src(x, t, ctx), deep(x, t, ctx)
    assert torch.allclose(a, b, atol=1e-6), (a - b).abs().max()
    assert grow_blocks(src, deep.state_dict()) == []          # never shrinks
    deep.train()
    opt = torch.optim.SGD(deep.parameters(), lr=1e-2)
    deep(x, t, ctx).square().mean().backward()
    opt.step()
    assert any(deep.blocks[4].get_submodule(n).weight.abs().sum() > 0 for n in RESIDUAL_OUTPUTS)


def test_family_weights_draw_the_weak_families_more_often(tmp_path):
    from collections import Counter

    from sfe_live.vj.train import parse_family_weights
    weights = parse_family_weights("tunnel=13, waves=1")
    assert weights == {"tunnel": 13.0, "waves": 1.0}
    plain = VJWorld(tmp_path / "codec.safetensors", bank=1, refresh=1, seed=0)
    heavy = VJWorld(tmp_path / "codec.safetensors", bank=1, refresh=1, seed=0, family_weights=weights)
    n = 2000
    plain_share = Counter(plain.draw_label().family for _ in range(n))["tunnel"] / n
    heavy_share = Counter(heavy.draw_label().family for _ in range(n))["tunnel"] / n
    assert abs(plain_share - 1 / len(W.FAMILIES)) < 0.03          # 1/14 without weights
    assert abs(heavy_share - 13 / (13 + len(W.FAMILIES) - 1)) < 0.04   # 13/26 = 0.5 with tunnel=13


def test_bad_family_weights_say_what_is_wrong():
    import pytest

    from sfe_live.vj.train import main, parse_family_weights
    for bad, words in (("tunel=3", "want family=weight"), ("tunnel", "want family=weight"),
                       ("tunnel=x", "must be a number"), ("tunnel=0", "(0, 100]"), ("tunnel=1e9", "(0, 100]")):
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("]", r"\]")):
            parse_family_weights(bad)
    with pytest.raises(SystemExit) as exc:
        main(["--family-weights", "tunel=3", "--codec", __file__])
    assert exc.value.code == 2
