#!/usr/bin/env Rscript
# NUTS reference posterior for stdlib/eight_schools.vmodel (non-centred eight schools), made with
# Debian's rstan (apt-get install r-cran-rstan r-cran-jsonlite). Writes
# tests/reference/eight_schools_nuts.json under the repo root.
#
# Usage: Rscript scripts/reference/eight_schools_nuts.R [REPO_ROOT]   (default: current directory)
#
# The Stan model below must match the vmodel's `model` block exactly:
#   mu ~ normal(0, 5); tau ~ half_normal(5) (normal(0, 5) on real<lower=0>);
#   theta_raw ~ normal(0, 1); y ~ normal(mu + tau * theta_raw, sigma).

suppressPackageStartupMessages({
  library(rstan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[[1]] else "."
data_path <- file.path(root, "stdlib", "eight_schools.data.json")
out_path <- file.path(root, "tests", "reference", "eight_schools_nuts.json")

SEED <- 20240601L
CHAINS <- 4L
ITER <- 20000L
WARMUP <- 5000L
ADAPT_DELTA <- 0.99
CORES <- min(CHAINS, max(1L, parallel::detectCores()))

stan_code <- "
data {
  int<lower=0> J;
  vector[J] y;
  vector<lower=0>[J] sigma;
}
parameters {
  real mu;
  real<lower=0> tau;
  vector[J] theta_raw;
}
model {
  mu ~ normal(0, 5);
  tau ~ normal(0, 5);          // half-normal(5) via the lower bound
  theta_raw ~ std_normal();
  y ~ normal(mu + tau * theta_raw, sigma);
}
"

d <- fromJSON(data_path)
stan_data <- list(J = length(d$y), y = as.numeric(d$y), sigma = as.numeric(d$sigma))
J <- stan_data$J
stopifnot(J == 8, length(stan_data$sigma) == J)

# Debian's r-cran-bh ships no headers (it depends on the system libboost-dev instead), so rstan
# finds no Boost under BH; point it at the system copy.
if (!nzchar(rstan_options("boost_lib")) && file.exists("/usr/include/boost/version.hpp"))
  rstan_options(boost_lib = "/usr/include")

t0 <- Sys.time()
model <- stan_model(model_code = stan_code, model_name = "eight_schools_noncentered")
fit <- sampling(model, data = stan_data, chains = CHAINS, iter = ITER, warmup = WARMUP,
                seed = SEED, cores = CORES, refresh = 0,
                control = list(adapt_delta = ADAPT_DELTA))
elapsed <- as.numeric(difftime(Sys.time(), t0, units = "secs"))

stan_names <- c("mu", "tau", sprintf("theta_raw[%d]", 1:J))
vmc_names <- c("mu", "tau", sprintf("theta_raw.%d", 0:(J - 1)))

arr <- as.array(fit, pars = stan_names)   # iterations x chains x params (post-warmup)
n_draws <- dim(arr)[1] * dim(arr)[2]
draws <- matrix(arr, nrow = n_draws, dimnames = list(NULL, stan_names))   # chain-major

# Divergences (post-warmup), max tree depth hits.
sp <- get_sampler_params(fit, inc_warmup = FALSE)
divergent <- sum(sapply(sp, function(x) sum(x[, "divergent__"])))
treedepth_hits <- sum(sapply(sp, function(x) sum(x[, "treedepth__"] >= 10)))

# Rank-normalised split R-hat (Vehtari et al. 2021) and bulk ESS per parameter.
rhat <- sapply(stan_names, function(p) Rhat(arr[, , p]))
ess_bulk <- sapply(stan_names, function(p) ess_bulk(arr[, , p]))
max_rhat <- max(rhat)

cat(sprintf("rstan %s, %d chains x %d post-warmup = %d draws, %.1f s (incl. compile)\n",
            packageVersion("rstan"), CHAINS, ITER - WARMUP, n_draws, elapsed))
cat(sprintf("divergent transitions: %d; max treedepth hits: %d\n", divergent, treedepth_hits))
cat(sprintf("max Rhat: %.5f; min bulk ESS: %.0f\n", max_rhat, min(ess_bulk)))
print(data.frame(param = vmc_names, mean = colMeans(draws), sd = apply(draws, 2, sd),
                 rhat = rhat, ess_bulk = ess_bulk, row.names = NULL), digits = 5)
if (divergent > 0) warning(sprintf("%d divergent transitions", divergent))
if (max_rhat > 1.01) warning(sprintf("max Rhat %.4f > 1.01", max_rhat))

sig <- function(x) signif(x, 6)
summ <- function(x) {
  q <- quantile(x, c(0.05, 0.5, 0.95), type = 7, names = FALSE)
  list(mean = sig(mean(x)), sd = sig(sd(x)), q5 = sig(q[1]), q50 = sig(q[2]), q95 = sig(q[3]))
}

params <- setNames(lapply(stan_names, function(p) summ(draws[, p])), vmc_names)
corr <- round(cor(draws), 4)
dimnames(corr) <- NULL

theta <- draws[, "mu"] + draws[, "tau"] * draws[, sprintf("theta_raw[%d]", 1:J), drop = FALSE]
theta_summ <- setNames(lapply(1:J, function(j) list(mean = sig(mean(theta[, j])),
                                                    sd = sig(sd(theta[, j])))),
                       sprintf("theta.%d", 0:(J - 1)))

source <- sprintf(paste0(
  "rstan %s (StanHeaders %s, %s), NUTS, %d chains, iter=%d, warmup=%d (%d post-warmup draws/chain), ",
  "adapt_delta=%.2f, seed=%d; Stan model = stdlib/eight_schools.vmodel's model block, ",
  "data = stdlib/eight_schools.data.json; command: Rscript scripts/reference/eight_schools_nuts.R ."),
  packageVersion("rstan"), packageVersion("StanHeaders"), R.version.string,
  CHAINS, ITER, WARMUP, ITER - WARMUP, ADAPT_DELTA, SEED)

out <- list(
  source = source,
  draws = n_draws,
  divergent = divergent,
  max_rhat = signif(max_rhat, 6),
  params = vmc_names,
  summary = params,
  correlation = corr,
  theta = theta_summ
)

dir.create(dirname(out_path), recursive = TRUE, showWarnings = FALSE)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = I(6)), out_path)
cat("wrote", out_path, "\n")
