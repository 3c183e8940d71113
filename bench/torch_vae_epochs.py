#!/usr/bin/python3
"""Derived from ../shared/peers/torch_vae.py (the PyTorch peer), used only for the 10-epoch
comparison in bench/README.md ("10 epochs on Fashion-MNIST (issue 6)").

Same model as the peer: Gaussian MLP encoder, Bernoulli-logit or Gaussian (0.01 floor under
sigma) MLP decoder, H = 400, J = 20, Adam lr 1e-3, minibatch 100, float32, estimator A or B.
Differences from the peer: it trains for --epochs E passes over the shuffled training set (a new
permutation each epoch) instead of a fixed number of steps without warm-up, and then reports
  - the train bound: mean of the last 100 minibatch ELBOs per datapoint,
  - the test bound per datapoint on t10k: one pass, one draw of eps per test point,
  - the training wall time (s) and datapoints/s.
Usage:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/torch_vae_epochs.py \
      --decoder gaussian|bernoulli --estimator A|B --epochs 10 --threads 1
"""
import argparse, gzip, time, struct, numpy as np, torch, torch.nn as nn

FM = '/usr/share/datasets/fashion-mnist/'

def load_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    _, n, r, c = struct.unpack('>IIII', data[:16])
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, r * c).astype(np.float32) / 255.0

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--epochs', type=float, default=10)
p.add_argument('--batch', type=int, default=100)
p.add_argument('--hidden', type=int, default=400)
p.add_argument('--latent', type=int, default=20)
p.add_argument('--decoder', default='bernoulli', choices=['bernoulli', 'gaussian'])
p.add_argument('--estimator', default='B', choices=['A', 'B'])
p.add_argument('--dtype', default='float32')
p.add_argument('--seed', type=int, default=0)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
dt = getattr(torch, a.dtype)
X = torch.from_numpy(load_idx(FM + 'train-images-idx3-ubyte.gz')).to(dt)
Xt = torch.from_numpy(load_idx(FM + 't10k-images-idx3-ubyte.gz')).to(dt)
N, K = X.shape
H, J = a.hidden, a.latent
enc = nn.Sequential(nn.Linear(K, H), nn.Tanh(), nn.Linear(H, 2 * J)).to(dt)
dout = K if a.decoder == 'bernoulli' else 2 * K
dec = nn.Sequential(nn.Linear(J, H), nn.Tanh(), nn.Linear(H, dout)).to(dt)
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
LOG2PI = float(np.log(2 * np.pi))

def elbo(x):
    """Per-datapoint ELBO estimates (a vector), as in the peer."""
    h = enc(x); mu, logvar = h[:, :J], h[:, J:]
    eps = torch.randn_like(mu)
    z = mu + torch.exp(0.5 * logvar) * eps
    o = dec(z)
    if a.decoder == 'bernoulli':
        logpx = -nn.functional.binary_cross_entropy_with_logits(o, x, reduction='none').sum(1)
    else:
        m, lv = o[:, :K], o[:, K:]
        sd = 0.01 + torch.exp(0.5 * lv)          # the stdlib model's floor under sigma
        logpx = (-0.5 * LOG2PI - torch.log(sd) - 0.5 * ((x - m) / sd) ** 2).sum(1)
    if a.estimator == 'B':
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
        return logpx - kl
    logpz = -0.5 * (LOG2PI + z ** 2).sum(1)
    logqz = -0.5 * (LOG2PI + logvar + eps ** 2).sum(1)
    return logpx + logpz - logqz

nb = N // a.batch
steps = int(round(a.epochs * nb))
last = []
t0 = time.perf_counter()
perm = None
for i in range(steps):
    j = i % nb
    if j == 0:
        perm = torch.randperm(N)
    x = X[perm[j * a.batch:(j + 1) * a.batch]]
    opt.zero_grad(set_to_none=True)
    e = elbo(x).mean()
    (-e).backward()
    opt.step()
    if i >= steps - 100:
        last.append(e.item())
fit_s = time.perf_counter() - t0

with torch.no_grad():
    test = sum(elbo(Xt[k:k + 1000]).sum().item() for k in range(0, Xt.shape[0], 1000)) / Xt.shape[0]

train = sum(last) / len(last)
print(f"torch {torch.__version__} threads={a.threads} decoder={a.decoder} est={a.estimator} "
      f"epochs={a.epochs:g} steps={steps} fit_s={fit_s:.2f} steps/s={steps / fit_s:.1f} "
      f"datapoints/s={steps * a.batch / fit_s:.0f} train_elbo={train:.3f} test_elbo={test:.3f}")
