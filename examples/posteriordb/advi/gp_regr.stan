// posteriordb's posterior_database/models/stan/gp_regr.stan at stan-dev/posteriordb commit
// 28f8d3d6e975315f42aa274a8399f21e07a43b30, for rstan 2.21 (Stan 2.21).
// Only the array syntax is changed to Stan 2.21's (array[N] T x -> T x[N]; array[] T in function arguments -> T[]). No other change.

data {
  int<lower=1> N;
  real x[N];
  vector[N] y;
}
parameters {
  real<lower=0> rho;
  real<lower=0> alpha;
  real<lower=0> sigma;
}
model {
  matrix[N, N] cov = gp_exp_quad_cov(x, alpha, rho)
                     + diag_matrix(rep_vector(sigma, N));
  matrix[N, N] L_cov = cholesky_decompose(cov);
  
  rho ~ gamma(25, 4);
  alpha ~ normal(0, 2);
  sigma ~ normal(0, 1);
  
  y ~ multi_normal_cholesky(rep_vector(0, N), L_cov);
}


