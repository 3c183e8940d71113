// posteriordb's posterior_database/models/stan/blr.stan at stan-dev/posteriordb commit
// 28f8d3d6e975315f42aa274a8399f21e07a43b30, for rstan 2.21 (Stan 2.21).
// It uses no array syntax, so the code below is unchanged.

data {
  int<lower=0> N;
  int<lower=0> D;
  matrix[N, D] X;
  vector[N] y;
}
parameters {
  vector[D] beta;
  real<lower=0> sigma;
}
model {
  // prior
  target += normal_lpdf(beta | 0, 10);
  target += normal_lpdf(sigma | 0, 10);
  // likelihood
  target += normal_lpdf(y | X * beta, sigma);
}


