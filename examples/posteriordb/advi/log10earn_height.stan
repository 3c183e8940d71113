// posteriordb's posterior_database/models/stan/log10earn_height.stan at stan-dev/posteriordb commit
// 28f8d3d6e975315f42aa274a8399f21e07a43b30, for rstan 2.21 (Stan 2.21).
// It uses no array syntax, so the code below is unchanged.

data {
  int<lower=0> N;
  vector[N] earn;
  vector[N] height;
}
transformed data {
  // log 10 transformation
  vector[N] log10_earn;
  for (i in 1 : N) {
    log10_earn[i] = log10(earn[i]);
  }
}
parameters {
  vector[2] beta;
  real<lower=0> sigma;
}
model {
  log10_earn ~ normal(beta[1] + beta[2] * height, sigma);
}


