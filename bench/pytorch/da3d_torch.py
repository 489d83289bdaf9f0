#!/usr/bin/env python3
# Over 500 lines: one self-contained peer of the whole trainer, kept in one file so it runs without the repository.
"""PyTorch (CPU) peer of the da3d crate, for benchmarking.

It mirrors the crate's networks and training steps (crates/da3d/src/config/, model/mlp.rs,
model/networks.rs, train/mod.rs) so that each batch does the same work as the Rust trainer:
same layer sizes, activations, dropout, spectral normalisation (3 power iterations from a fixed
start in every forward pass), Adam settings, per-phase steps and batches per epoch. Exact
numerical agreement with the Rust side is not a goal; equal work per step is.

Timing mode (the default) mirrors `da3d bench`: each phase (aae, pretrain, da3d) runs
warmup + K epochs in sequence and the mean seconds of the last K epochs is reported.
`--check` trains a full (short) schedule and prints the test ROC AUC instead.

Where the work is not op-for-op the same (the math is):
* torch's fused kernels by default: F.selu, F.binary_cross_entropy_with_logits, addmm for
  x @ W + b, F.dropout. `--literal-ops` uses the crate's op-by-op SELU (exp of min(x, 0)) and BCE
  formula instead; Linear and dropout stay fused.
* Adam is torch's default CPU implementation (per-parameter loop), burn's is per parameter too.
* The per-epoch shuffle is torch.randperm (the crate's HostRng is ported only for the split), and a
  batch is a tensor gather instead of a host copy and upload; random draws use torch's generator.
* Parameter-frozen copies (burn `.no_grad()`: alarm and critic in the generator step, the latent
  discriminator in the encoder step) are the live modules with requires_grad switched off for the
  forward pass; the frozen AAE (burn `.freeze()`) is a deep copy in eval mode.
"""

import argparse
import copy
import csv
import gzip
import json
import math
import os
import sys
import time
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# --------------------------------------------------------------------------------------------
# Presets (crates/da3d/src/config/presets.rs), for the known data sets.
# --------------------------------------------------------------------------------------------

PAPER_ENCODER = {
    "mammography": [12, 10, 8, 6, 3, 2], "nslkdd": [200, 150, 100, 75, 50, 25],
    "census": [750, 500, 300, 200, 100, 50], "doh": [50, 40, 30, 20, 10, 5],
    "url": [100, 80, 60, 40, 20, 10],
}
PAPER_GENERATOR = {
    "mammography": [15, 10, 5], "nslkdd": [40, 35, 30], "census": [80, 70, 60],
    "doh": [20, 15, 10], "url": [25, 20, 15],
}
REFERENCE_ENCODER = {
    "mammography": [12, 10, 8, 6, 3, 2], "nslkdd": [150, 100, 70, 40, 25, 10],
    "census": [600, 300, 150, 75, 30, 15], "doh": [50, 40, 30, 20, 10, 2],
    "url": [100, 80, 60, 40, 20, 10],
}
REFERENCE_BATCH = {"mammography": 128, "doh": 128, "nslkdd": 512, "census": 512, "url": 64}


def encoder_rule(d):
    """Encoder widths for an unknown data set (config/presets.rs `encoder_rule`)."""
    start, code, n = float(max(2 * d, 4)), float(max(d // 10, 2)), 6
    return [int(max(round(start * (code / start) ** (i / (n - 1))), code)) for i in range(n)]


def preset(name, d, dataset):
    """The crate's preset `name` for input width `d` (dict of the fields the peer uses)."""
    ds = dataset if dataset in PAPER_ENCODER else None
    alarm_small = [100, 50, 25, 10]
    alarm_large = [1000, 500, 200, 75]
    if name == "paper":
        enc = PAPER_ENCODER[ds] if ds else encoder_rule(d)
        if ds in ("mammography", "doh", "url"):
            alarm = alarm_small
        elif ds:
            alarm = alarm_large
        else:
            alarm = alarm_small if d < 50 else alarm_large
        code = enc[-1]
        return dict(
            encoder=enc, alarm=alarm,
            generator=PAPER_GENERATOR[ds] if ds else [code + 15, code + 10, code + 5],
            generator_noise=8, critic=[50, 40, 30, 20, 10], critic_output="linear",
            latent_discriminator=[50, 40, 30, 20, 10], latent_discriminator_output="linear",
            activation="selu", dropout=0.2,
            aae_epochs=500, pretrain_epochs=50, da3d_epochs=500, batch_size=256,
            lr=1e-4, betas=(0.9, 0.999), eps=1e-7,
            critic_weights=(1.0, 1.0, 2.0), critic_noise_std=1.5,
            trivial_mean=0.5, trivial_std=1.0,
            lipschitz="spectral", grad_clip=None,
        )
    if name == "reference":
        enc = REFERENCE_ENCODER[ds] if ds else encoder_rule(d)
        if ds == "mammography":
            alarm = alarm_small
        elif ds:
            alarm = alarm_large
        else:
            alarm = alarm_small if d < 50 else alarm_large
        return dict(
            encoder=enc, alarm=alarm, generator=[50, 40, 30, 20],
            generator_noise=8, critic=[40, 20, 10, 5], critic_output="sigmoid",
            latent_discriminator=[40, 20, 10, 5], latent_discriminator_output="sigmoid",
            activation="leaky_relu", dropout=0.1,
            aae_epochs=500, pretrain_epochs=0, da3d_epochs=500,
            batch_size=REFERENCE_BATCH.get(ds, 128),
            lr=1e-4, betas=(0.9, 0.999), eps=1e-7,
            critic_weights=(2.0, 2.0, 1.0), critic_noise_std=2.0,
            trivial_mean=0.5, trivial_std=1.0,
            # GradNormClip(0.01): per-parameter gradient L2 clip on the latent discriminator,
            # generator and critic optimisers (burn's GradientClipping::Norm is per tensor).
            lipschitz="none", grad_clip=0.01,
        )
    raise SystemExit(f"unknown preset '{name}' (paper, reference)")


# --------------------------------------------------------------------------------------------
# Data: the crate's HostRng (rng.rs) so the seeded 80/5/15 split is the same rows as in Rust.
# --------------------------------------------------------------------------------------------

M64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class HostRng:
    """SplitMix64-seeded xoshiro256** (crates/da3d/src/rng.rs). Used once, for the split."""

    def __init__(self, seed, stream):
        st = (seed ^ (stream * 0xD1B54A32D192ED03)) & M64
        self.s = []
        for _ in range(4):
            st, v = _splitmix64(st)
            self.s.append(v)

    def next_u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n):
        zone = M64 - (M64 % n)
        while True:
            v = self.next_u64()
            if v < zone:
                return v % n

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


SPLIT_STREAM = 0x5911


def random_split(n, seed):
    """Seeded 80/5/15 split of n rows (data/split.rs `random_split`)."""
    idx = list(range(n))
    HostRng(seed, SPLIT_STREAM).shuffle(idx)
    n_train = int(math.floor(n * 0.80 + 0.5))
    n_val = min(int(math.floor(n * 0.05 + 0.5)), n - n_train)
    return idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]


def load(path, label, seed=0):
    """Read a numeric CSV; return (train, test_x, test_y) as float32 tensors.

    Same protocol as `da3d bench` with a labelled file (data::prepare, contamination 0, seed 0):
    the seeded 80/5/15 split, training on the normal rows of the 80 % part (sorted by row, as
    training_rows does), min-max scaling fitted on those rows (a constant column becomes
    v - min). Only numeric feature columns are supported (enough for mammography).
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], [r for r in rows[1:] if r]
    if label not in header:
        raise SystemExit(f"{path}: no label column '{label}' (columns: {', '.join(header)})")
    li = header.index(label)
    feats = [i for i in range(len(header)) if i != li and not header[i].startswith("meta_")]
    try:
        x = torch.tensor([[float(r[i]) for i in feats] for r in rows], dtype=torch.float64)
    except ValueError as e:
        raise SystemExit(f"{path}: only numeric feature columns are supported here ({e})")
    y = torch.tensor([int(float(r[li])) for r in rows])
    train, _val, test = random_split(len(rows), seed)
    train = sorted(i for i in train if y[i] == 0)
    lo, hi = x[train].min(0).values, x[train].max(0).values
    rng = hi - lo
    scale = torch.where(rng > 0, rng, torch.ones_like(rng))
    xs = ((x - lo) / scale).float()
    return xs[train].contiguous(), xs[test].contiguous(), y[test]


# --------------------------------------------------------------------------------------------
# Networks (model/mlp.rs, model/networks.rs)
# --------------------------------------------------------------------------------------------

POWER_ITERATIONS = 3  # mlp.rs POWER_ITERATIONS
SELU_ALPHA = 1.6732632423543772
SELU_GAMMA = 1.0507009873554805
LITERAL_OPS = False  # --literal-ops: the crate's op-by-op SELU and BCE instead of torch's fused ones


def selu(x):
    if LITERAL_OPS:  # mlp.rs `selu`: exp of min(x, 0) only
        return x.clamp_min(0.0) * SELU_GAMMA + (x.clamp_max(0.0).exp() - 1.0) * (SELU_ALPHA * SELU_GAMMA)
    return F.selu(x)


def bce_with_logits(z, t):
    if LITERAL_OPS:  # losses.rs: max(z, 0) - z t + log(1 + exp(-|z|)), mean
        return (F.relu(z) - z * t + (-z.abs()).exp().log1p()).mean()
    return F.binary_cross_entropy_with_logits(z, t)


def _unit(v):
    return v / (v.square().sum().sqrt() + 1e-12)


def spectral_norm(w):
    """Largest singular value of w ([in, out]) as in mlp.rs: power iteration on the detached
    weight from a fixed start (ones), then v^T W u with gradients through W."""
    fixed = w.detach()
    u = _unit(torch.ones(w.shape[1], 1))
    v = _unit(fixed @ u)
    for _ in range(1, POWER_ITERATIONS):
        u = _unit(fixed.t() @ v)
        v = _unit(fixed @ u)
    u = _unit(fixed.t() @ v)
    return (v.t() @ (w @ u)).reshape(1)


class Mlp(nn.Module):
    """Linear layers (weights [in, out] like burn, Glorot-uniform, zero bias), activation and
    dropout after each hidden layer; optional spectral normalisation of every weight."""

    def __init__(self, d_in, hidden, d_out, activation, dropout, output="linear", spectral=False):
        super().__init__()
        widths = [d_in] + list(hidden) + [d_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(widths[:-1], widths[1:]):
            bound = math.sqrt(6.0 / (a + b))
            self.weights.append(nn.Parameter(torch.empty(a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.zeros(b)))
        self.activation = selu if activation == "selu" else (lambda x: F.leaky_relu(x, 0.01))
        self.p = dropout
        self.output = output
        self.spectral = spectral

    def run(self, x, hidden=None):
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if self.spectral:
                w = w / spectral_norm(w).clamp_min(1e-6)
            x = torch.addmm(b, x, w)
            if i < last:
                x = self.activation(x)
                if hidden is not None:
                    hidden.append(x)
                x = F.dropout(x, self.p, self.training)
        return x

    def forward_logits(self, x):
        return self.run(x)

    def forward(self, x):
        y = self.run(x)
        return torch.sigmoid(y) if self.output == "sigmoid" else y

    def forward_with_hidden(self, x):
        """Pre-activation output and the hidden activations (before dropout), concatenated."""
        hidden = []
        y = self.run(x, hidden)
        return y, torch.cat(hidden, 1)


class Aae(nn.Module):
    def __init__(self, d, enc, act, dropout):
        super().__init__()
        hidden, code = enc[:-1], enc[-1]
        self.encoder = Mlp(d, hidden, code, act, dropout)
        self.decoder = Mlp(code, list(reversed(hidden)), d, act, dropout, output="sigmoid")


def build(cfg, d):
    """The five networks of networks.rs for input width d (alarm reads the decoder)."""
    spectral = cfg["lipschitz"] == "spectral"
    act, p, code = cfg["activation"], cfg["dropout"], cfg["encoder"][-1]
    return dict(
        aae=Aae(d, cfg["encoder"], act, p),
        latent_discriminator=Mlp(code, cfg["latent_discriminator"], 1, act, p,
                                 cfg["latent_discriminator_output"], spectral),
        alarm=Mlp(sum(cfg["encoder"][:-1]), cfg["alarm"], 1, act, p),
        generator=Mlp(cfg["generator_noise"], cfg["generator"], code, act, p),
        critic=Mlp(code, cfg["critic"], 1, act, p, cfg["critic_output"], spectral),
    )


@contextmanager
def params_frozen(module):
    """burn's `.no_grad()` copy: parameters take no gradient, dropout stays on. The autograd
    graph records requires_grad at op time, so restoring it before backward() is fine."""
    flags = [q.requires_grad for q in module.parameters()]
    for q in module.parameters():
        q.requires_grad_(False)
    try:
        yield module
    finally:
        for q, f in zip(module.parameters(), flags):
            q.requires_grad_(f)


# --------------------------------------------------------------------------------------------
# Trainer (train/mod.rs)
# --------------------------------------------------------------------------------------------


class Trainer:
    def __init__(self, cfg, x):
        self.cfg, self.x = cfg, x
        self.nets = build(cfg, x.shape[1])
        for m in self.nets.values():
            m.train()
        self.code = cfg["encoder"][-1]
        adam = lambda m: torch.optim.Adam(m.parameters(), lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"])
        n = self.nets
        self.opt = dict(
            aae=adam(n["aae"]), latent_discriminator=adam(n["latent_discriminator"]),
            encoder=adam(n["aae"].encoder), alarm=adam(n["alarm"]),
            generator=adam(n["generator"]), critic=adam(n["critic"]),
        )
        self.frozen = None
        self._targets = {}

    def batches_per_epoch(self):
        return -(-self.x.shape[0] // self.cfg["batch_size"])

    def freeze_aae(self):
        """After the AAE phase: a frozen copy (no gradients, no dropout), as `Module::freeze`."""
        self.frozen = copy.deepcopy(self.nets["aae"]).eval().requires_grad_(False)

    def step(self, name, module, loss, clip=False):
        """zero_grad, backward, optional per-tensor gradient-norm clip, Adam step."""
        opt = self.opt[name]
        opt.zero_grad()
        loss.backward()
        c = self.cfg["grad_clip"]
        if clip and c is not None:
            for q in module.parameters():
                if q.grad is not None:
                    q.grad.mul_((c / (q.grad.norm() + 1.1754944e-38)).clamp_max(1.0))
        opt.step()

    def targets(self, b, parts):
        key = (b, parts)
        if key not in self._targets:
            t = torch.ones(b * parts, 1)
            t[:b] = 0.0
            self._targets[key] = t
        return self._targets[key]

    def epoch(self, phase):
        """One epoch of `phase` ('aae', 'pretrain', 'da3d'); returns the mean losses."""
        if phase != "aae" and self.frozen is None:
            self.freeze_aae()
        order = torch.randperm(self.x.shape[0])
        bs = self.cfg["batch_size"]
        acc, n = None, 0
        for s in range(0, len(order), bs):
            batch = self.x[order[s:s + bs]]
            if phase == "aae":
                losses = self.aae_step(batch)
            elif phase == "pretrain":
                losses = self.alarm_step(batch, 2)[0]
            else:
                losses = self.da3d_step(batch)
            acc = losses if acc is None else acc + losses
            n += 1
        return (acc / n).tolist()  # one read per epoch, as the Rust trainer

    def aae_step(self, x):
        b = x.shape[0]
        aae, disc = self.nets["aae"], self.nets["latent_discriminator"]
        # reconstruction step (encoder + decoder)
        codes = aae.encoder(x)
        rec = bce_with_logits(aae.decoder.forward_logits(codes), x)
        self.step("aae", aae, rec)
        # latent discriminator: large for codes ("fake"), small for the N(0, I) prior
        prior = torch.randn(b, self.code)
        out = disc(torch.cat([codes.detach(), prior], 0))
        disc_loss = out[b:].mean() - out[:b].mean()
        self.step("latent_discriminator", disc, disc_loss, clip=True)
        # encoder regularisation through the (parameter-frozen, dropout-on) discriminator
        with params_frozen(disc):
            enc_loss = disc(aae.encoder(x)).mean()
        self.step("encoder", aae.encoder, enc_loss)
        return torch.stack([rec.detach(), disc_loss.detach(), enc_loss.detach()])

    def alarm_step(self, x, parts):
        cfg, frozen = self.cfg, self.frozen
        b, d = x.shape
        trivial = torch.randn(b, d) * cfg["trivial_std"] + cfg["trivial_mean"]
        with torch.no_grad():
            codes = frozen.encoder(torch.cat([x, trivial], 0))
            inputs = [frozen.decoder.forward_with_hidden(codes)[1]]
            if parts == 3:
                # generator with dropout on, no gradients (burn: `.no_grad()` + detach)
                generated = self.nets["generator"](torch.randn(b, cfg["generator_noise"]))
                inputs.append(frozen.decoder.forward_with_hidden(generated)[1])
        alarm = self.nets["alarm"]
        loss = bce_with_logits(alarm(torch.cat(inputs, 0)), self.targets(b, parts)) * parts
        self.step("alarm", alarm, loss)
        return loss.detach().reshape(1), codes[:b]

    def da3d_step(self, x):
        cfg, frozen = self.cfg, self.frozen
        b, g = x.shape[0], cfg["generator_noise"]
        gen, alarm, critic = self.nets["generator"], self.nets["alarm"], self.nets["critic"]
        alarm_loss, normal_codes = self.alarm_step(x, 3)
        # generator: look normal to the alarm (objective 1) and move toward the critic's noise (2)
        generated = gen(torch.randn(2 * b, g))
        acts = frozen.decoder.forward_with_hidden(generated[:b])[1]
        with params_frozen(alarm):
            obj_alarm = torch.sigmoid(alarm(acts)).mean()
        with params_frozen(critic):
            obj_critic = -critic(generated[b:]).mean()
        gen_loss = obj_alarm + obj_critic
        self.step("generator", gen, gen_loss, clip=True)
        # critic: small on generated and normal codes, large on N(0, sigma^2) noise
        with torch.no_grad():
            generated = gen(torch.randn(b, g))
        noise = torch.randn(b, self.code) * cfg["critic_noise_std"]
        out = critic(torch.cat([generated, normal_codes, noise], 0))
        m_gen, m_normal, m_noise = out[:b].mean(), out[b:2 * b].mean(), out[2 * b:].mean()
        w_gen, w_normal, w_noise = cfg["critic_weights"]
        critic_loss = m_gen * w_gen + m_normal * w_normal - m_noise * w_noise
        self.step("critic", critic, critic_loss, clip=True)
        return torch.cat([alarm_loss, torch.stack([
            gen_loss, obj_alarm, obj_critic, critic_loss, m_normal, m_gen, m_noise]).detach()])

    @torch.no_grad()
    def score(self, x):
        """f_AD(x) = sigmoid(alarm(decoder activations(enc(x)))), all networks in eval mode."""
        aae, alarm = self.nets["aae"].eval(), self.nets["alarm"].eval()
        acts = aae.decoder.forward_with_hidden(aae.encoder(x))[1]
        s = torch.sigmoid(alarm(acts)).reshape(-1)
        aae.train(), alarm.train()
        return s


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

PHASES = ("aae", "pretrain", "da3d")


def main():
    global LITERAL_OPS
    data_dir = os.environ.get("DA3D_DATA_DIR", os.path.join(REPO, "..", "shared", "datasets"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(data_dir, "mammography.csv"))
    ap.add_argument("--dataset", default=None, help="architecture table (default: from the file name)")
    ap.add_argument("--label", default="label")
    ap.add_argument("--preset", default="paper", choices=["paper", "reference"])
    ap.add_argument("--threads", type=int, default=1, help="torch intra- and inter-op threads")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per phase")
    ap.add_argument("--warmup", type=int, default=1, help="untimed epochs before them, per phase")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    ap.add_argument("--seed", type=int, default=0, help="torch seed (the split always uses seed 0)")
    ap.add_argument("--literal-ops", action="store_true",
                    help="the crate's op-by-op SELU and BCE instead of torch's fused kernels")
    ap.add_argument("--json", metavar="OUT.json", help="write the results as JSON here")
    ap.add_argument("--check", action="store_true",
                    help="train the schedule below and print the test ROC AUC instead of timing")
    ap.add_argument("--check-epochs", default="50,10,50", metavar="AAE,PRETRAIN,DA3D")
    args = ap.parse_args()
    LITERAL_OPS = args.literal_ops

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)
    dataset = args.dataset or os.path.basename(args.data).split(".")[0].lower()
    x, test_x, test_y = load(args.data, args.label)
    cfg = preset(args.preset, x.shape[1], dataset)
    if args.batch_size:
        cfg["batch_size"] = args.batch_size
    trainer = Trainer(cfg, x)
    print(f"data: {args.data} ({x.shape[0]} training rows, {x.shape[1]} inputs); torch {torch.__version__}, "
          f"{args.threads} thread(s), preset {args.preset}, batch {cfg['batch_size']}, "
          f"{trainer.batches_per_epoch()} batches/epoch", file=sys.stderr)

    if args.check:
        epochs = dict(zip(PHASES, (int(v) for v in args.check_epochs.split(","))))
        t0 = time.perf_counter()
        for phase in PHASES:
            for e in range(epochs[phase]):
                losses = trainer.epoch(phase)
                if e == epochs[phase] - 1:
                    print(f"{phase} epoch {e + 1}: " + ", ".join(f"{v:.4f}" for v in losses), file=sys.stderr)
        from sklearn.metrics import roc_auc_score
        auc = roc_auc_score(test_y.numpy(), trainer.score(test_x).numpy())
        print(f"check: epochs {args.check_epochs}, {time.perf_counter() - t0:.1f} s, "
              f"test ROC AUC {auc:.4f} ({len(test_y)} rows, {int(test_y.sum())} anomalies)")
        return

    results = []
    for phase in PHASES:
        times = []
        for e in range(args.warmup + args.epochs):
            t = time.perf_counter()
            trainer.epoch(phase)
            if e >= args.warmup:
                times.append(time.perf_counter() - t)
        mean = sum(times) / len(times)
        results.append({
            "backend": "torch-cpu", "phase": phase, "seconds_per_epoch": mean,
            "steps_per_second": trainer.batches_per_epoch() / mean, "batch_size": cfg["batch_size"],
            "rows": x.shape[0], "inputs": x.shape[1], "threads": args.threads,
        })
    print("| peer | phase | s/epoch | steps/s | batch |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| torch-cpu ({r['threads']}t) | {r['phase']} | {r['seconds_per_epoch']:.3f} | "
              f"{r['steps_per_second']:.1f} | {r['batch_size']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"data": args.data, "torch": torch.__version__, "preset": args.preset,
                       "threads": args.threads, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
