#!/usr/bin/env Rscript
# Stan's own ADVI (rstan::vb, meanfield and fullrank) on 11 posteriordb posteriors, compared with
# posteriordb's reference posteriors: a baseline for vmc on the same models. Made with Debian's
# rstan 2.21 (apt-get install r-cran-rstan r-cran-jsonlite).
#
# Usage (from the repo root):
#   Rscript scripts/reference/advi_posteriordb.R [POSTERIORDB_GIT_DIR] [REPO_ROOT]
#     POSTERIORDB_GIT_DIR  a (bare) git clone of stan-dev/posteriordb; HEAD is read with `git show`.
#                          Default /work/.mirror/stan-dev+posteriordb/repo (commit 28f8d3d6e975).
#     REPO_ROOT            default: current directory.
#   ADVI_POSTERIORS=name1,name2 (environment) runs only those posteriors (for testing; the outputs
#   are still written and then hold only those).
#
# Reads:
#   examples/posteriordb/advi/MODEL.stan      posteriordb's models, translated to Stan 2.21 syntax
#   POSTERIORDB_GIT_DIR: posterior_database/data/data/DATA.json.zip
#   POSTERIORDB_GIT_DIR: posterior_database/reference_posteriors/draws/draws/NAME.json.zip
#     (pooled over all chains). If a draws blob is absent from the git dir (the mirror lacks
#     mcycle_gp-accel_gp's), the reference mean and sd come from posteriordb's
#     summary_statistics/{mean_value,mean_squared_value} instead; results.json says which.
# Writes:
#   examples/posteriordb/advi/results.json  per posterior and algorithm: vb time, Pareto k-hat,
#                                           warnings/errors, per-element vb and reference mean/sd,
#                                           worst mean error and sd-ratio range
#   examples/posteriordb/advi/results.md    the markdown table below, with machine, date, versions
#   stdout: the markdown table; stderr: progress and each vb call's console output.
#
# Each vb call runs at rstan's defaults (iter = 10000, tol_rel_obj = 0.01, output_samples = 1000,
# eta adapted, grad_samples = 1, elbo_samples = 100, eval_elbo = 100) with seed = 1. time_s is the
# vb() call only (not compilation). Mean error of an element = |vb mean - ref mean| / ref sd;
# sd ratio = vb sd / ref sd. k-hat is the PSIS Pareto k that rstan's vb computes for the
# approximation (fit@sim$diagnostics$psis$pareto_k; rstan only prints it as a warning when > 0.7).

suppressPackageStartupMessages({
  library(rstan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
pdb_git <- if (length(args) >= 1) args[[1]] else "/work/.mirror/stan-dev+posteriordb/repo"
root <- if (length(args) >= 2) args[[2]] else "."
adv_dir <- file.path(root, "examples", "posteriordb", "advi")
json_path <- file.path(adv_dir, "results.json")
md_path <- file.path(adv_dir, "results.md")

SEED <- 1L
VB_ITER <- 10000L
TOL_REL_OBJ <- 0.01
OUTPUT_SAMPLES <- 1000L
ALGORITHMS <- c("meanfield", "fullrank")

# posterior name -> (posteriordb model name, posteriordb data name)
POSTERIORS <- list(
  "kidiq-kidscore_momhsiq"                     = c("kidscore_momhsiq", "kidiq"),
  "earnings-log10earn_height"                  = c("log10earn_height", "earnings"),
  "earnings-logearn_height_male"               = c("logearn_height_male", "earnings"),
  "kidiq_with_mom_work-kidscore_interaction_c" = c("kidscore_interaction_c", "kidiq_with_mom_work"),
  "mesquite-logmesquite_logvolume"             = c("logmesquite_logvolume", "mesquite"),
  "nes1984-nes"                                = c("nes", "nes1984"),
  "sblri-blr"                                  = c("blr", "sblri"),
  "gp_pois_regr-gp_regr"                       = c("gp_regr", "gp_pois_regr"),
  "gp_pois_regr-gp_pois_regr"                  = c("gp_pois_regr", "gp_pois_regr"),
  "mcycle_gp-accel_gp"                         = c("accel_gp", "mcycle_gp"),
  "bball_drive_event_1-hmm_drive_1"            = c("hmm_drive_1", "bball_drive_event_1")
)
only <- Sys.getenv("ADVI_POSTERIORS")
if (nzchar(only)) {
  sel <- strsplit(only, ",")[[1]]
  stopifnot(all(sel %in% names(POSTERIORS)))
  POSTERIORS <- POSTERIORS[sel]
}

# Debian's r-cran-bh ships no headers (it depends on the system libboost-dev instead), so rstan
# finds no Boost under BH; point it at the system copy.
if (!nzchar(rstan_options("boost_lib")) && file.exists("/usr/include/boost/version.hpp"))
  rstan_options(boost_lib = "/usr/include")

say <- function(...) message(sprintf(...))
sig <- function(x) signif(x, 6)

# ---- posteriordb access (git show from the git dir; no work tree needed) -----------------------
git_pdb <- function(...) {
  system2("git", c("--git-dir", shQuote(pdb_git), ...), stdout = TRUE, stderr = TRUE)
}
pdb_commit <- git_pdb("rev-parse", "HEAD")[1]

# Unzip HEAD:path (a .json.zip) into a temp dir and return the JSON file's path, or NULL if the
# blob is not in the git dir.
pdb_unzip <- function(path) {
  zip <- tempfile(fileext = ".zip")
  status <- system2("git", c("--git-dir", shQuote(pdb_git), "show", shQuote(paste0("HEAD:", path))),
                    stdout = zip, stderr = FALSE)
  if (status != 0 || !file.exists(zip) || file.size(zip) == 0) return(NULL)
  exdir <- tempfile()
  files <- unzip(zip, exdir = exdir)
  unlink(zip)
  files[grepl("\\.json$", files)][1]
}
pdb_json <- function(path) {
  txt <- git_pdb("show", shQuote(paste0("HEAD:", path)))
  if (!is.null(attr(txt, "status"))) return(NULL)
  fromJSON(paste(txt, collapse = "\n"), simplifyVector = TRUE)
}

# Reference: per element mean and sd, pooled over all chains.
load_reference <- function(post) {
  f <- pdb_unzip(sprintf("posterior_database/reference_posteriors/draws/draws/%s.json.zip", post))
  if (!is.null(f)) {
    chains <- fromJSON(f, simplifyVector = TRUE, simplifyDataFrame = FALSE, simplifyMatrix = FALSE)
    unlink(dirname(f), recursive = TRUE)
    nms <- names(chains[[1]])
    pooled <- sapply(nms, function(p) unlist(lapply(chains, function(ch) as.numeric(ch[[p]]))))
    return(list(source = "reference draws (all chains pooled)", names = nms,
                n_chains = length(chains), n_draws = nrow(pooled),
                mean = colMeans(pooled), sd = apply(pooled, 2, sd)))
  }
  # Fallback: posteriordb's summary statistics (mean, mean of squares) of the same reference draws.
  ss <- "posterior_database/reference_posteriors/summary_statistics"
  mv <- pdb_json(sprintf("%s/mean_value/mean_value/%s.json", ss, post))
  msv <- pdb_json(sprintf("%s/mean_squared_value/mean_squared_value/%s.json", ss, post))
  info <- pdb_json(sprintf("posterior_database/reference_posteriors/draws/info/%s.info.json", post))
  if (is.null(mv) || is.null(msv) || is.null(info)) stop("no reference draws or summary for ", post)
  stopifnot(identical(mv$names, msv$names))
  n <- info$diagnostics$ndraws
  v <- (msv$mean_squared_value - mv$mean_value^2) * n / (n - 1)
  list(source = paste0("summary_statistics mean_value and mean_squared_value (the draws blob is ",
                       "absent from the posteriordb git dir); sd = sqrt((E[x^2] - E[x]^2) n/(n-1))"),
       names = mv$names, n_chains = info$diagnostics$nchains, n_draws = n,
       mean = setNames(mv$mean_value, mv$names), sd = setNames(sqrt(v), mv$names))
}

# posteriordb's data, unzipped from the git dir (the .vmodel ports keep their own compact copies).
load_data <- function(dname) {
  f <- pdb_unzip(sprintf("posterior_database/data/data/%s.json.zip", dname))
  if (is.null(f)) stop("data ", dname, " not found in ", pdb_git)
  data <- fromJSON(f, simplifyVector = TRUE)
  unlink(dirname(f), recursive = TRUE)
  data
}

# ---- one vb call ---------------------------------------------------------------------------------
run_vb <- function(model, data, algorithm) {
  warns <- character()
  msgs <- character()
  err <- NULL
  fit <- NULL
  t0 <- proc.time()[["elapsed"]]
  console <- capture.output(
    fit <- tryCatch(
      withCallingHandlers(
        vb(model, data = data, algorithm = algorithm, seed = SEED, iter = VB_ITER,
           tol_rel_obj = TOL_REL_OBJ, output_samples = OUTPUT_SAMPLES),
        warning = function(w) {
          warns <<- c(warns, conditionMessage(w))
          invokeRestart("muffleWarning")
        },
        message = function(m) {
          msgs <<- c(msgs, trimws(conditionMessage(m)))
          invokeRestart("muffleMessage")
        }),
      error = function(e) {
        err <<- conditionMessage(e)
        NULL
      }),
    type = "output")
  elapsed <- proc.time()[["elapsed"]] - t0
  list(fit = fit, time_s = elapsed, warnings = warns, messages = msgs, error = err,
       console = console)
}

summarise_vb <- function(r, ref) {
  console <- r$console
  # Stan's ADVI reports these on the console (not as R warnings); keep them as warnings.
  info <- trimws(sub("^Chain [0-9]+: ", "",
                     console[grepl("Informational Message|may not have converged|may not be reliable",
                                   console)]))
  n_div <- sum(grepl("MAY BE DIVERGING", console))
  n_elbo <- sum(grepl("^Chain [0-9]+: +[0-9]+ +[-0-9.]+ ", console))
  if (n_div > 0)
    info <- c(info, sprintf("ELBO table notes 'MAY BE DIVERGING... INSPECT ELBO' at %d of %d evaluations",
                            n_div, n_elbo))
  out <- list(time_s = round(r$time_s, 3), khat = NULL, converged = NULL, warnings = I(character()),
              error = NULL)
  out$warnings <- I(c(r$warnings, info))
  out$converged <- any(grepl("ELBO CONVERGED", console))
  conv_line <- console[grepl("ELBO CONVERGED", console)]
  if (length(conv_line)) out$convergence <- trimws(conv_line[1])
  eta_line <- console[grepl("Success! Found best value", console)]
  if (length(eta_line)) out$eta <- trimws(sub(".*\\[eta = ([^]]*)\\].*", "\\1", eta_line[1]))
  fit <- r$fit
  failed <- !is.null(r$error) || is.null(fit) || !is(fit, "stanfit") || fit@mode != 0L
  if (failed) {
    why <- c(r$error, r$messages,
             tail(trimws(console[grepl("rror|xception|failed|drop", console)]), 3))
    out$error <- if (length(why)) paste(unique(why), collapse = " | ") else "vb returned no draws"
    out$converged <- NULL
    return(out)
  }
  k <- fit@sim$diagnostics$psis$pareto_k
  out$khat <- if (is.null(k)) NULL else sig(k)
  kw <- regmatches(r$warnings, regexpr("Pareto k diagnostic value is [-0-9.eE+]+", r$warnings))
  if (length(kw)) out$khat_warning <- kw[1]
  draws <- as.matrix(fit)
  out$n_vb_draws <- nrow(draws)
  common <- ref$names[ref$names %in% colnames(draws)]
  out$not_compared <- I(setdiff(ref$names, colnames(draws)))
  vb_mean <- colMeans(draws[, common, drop = FALSE])
  vb_sd <- apply(draws[, common, drop = FALSE], 2, sd)
  merr <- abs(vb_mean - ref$mean[common]) / ref$sd[common]
  ratio <- vb_sd / ref$sd[common]
  out$n_elements <- length(common)
  if (length(common)) {
    bad <- !is.finite(merr) | !is.finite(ratio)
    if (any(bad)) out$warnings <- I(c(out$warnings, paste("non-finite vb mean or sd for:",
                                                          paste(common[bad], collapse = ", "))))
    iw <- which.max(replace(merr, !is.finite(merr), Inf))
    imin <- which.min(replace(ratio, is.na(ratio), -Inf))
    imax <- which.max(replace(ratio, is.na(ratio), Inf))
    out$worst_mean_error <- sig(merr[[iw]])
    out$worst_mean_error_element <- common[iw]
    out$sd_ratio_min <- sig(ratio[[imin]])
    out$sd_ratio_min_element <- common[imin]
    out$sd_ratio_max <- sig(ratio[[imax]])
    out$sd_ratio_max_element <- common[imax]
    out$elements <- setNames(lapply(common, function(p) list(
      vb_mean = sig(vb_mean[[p]]), vb_sd = sig(vb_sd[[p]]),
      ref_mean = sig(ref$mean[[p]]), ref_sd = sig(ref$sd[[p]]),
      mean_error = sig(merr[[p]]), sd_ratio = sig(ratio[[p]]))), common)
  }
  out
}

# ---- main loop -----------------------------------------------------------------------------------
results <- list()
for (post in names(POSTERIORS)) {
  mname <- POSTERIORS[[post]][1]
  dname <- POSTERIORS[[post]][2]
  say("==== %s (model %s, data %s)", post, mname, dname)
  entry <- list(model = mname, data = dname,
                model_file = file.path("examples/posteriordb/advi", paste0(mname, ".stan")),
                data_file = sprintf("posterior_database/data/data/%s.json.zip", dname))
  ref <- load_reference(post)
  entry$reference <- list(source = ref$source, n_chains = ref$n_chains, n_draws = ref$n_draws,
                          n_elements = length(ref$names))
  data <- load_data(dname)
  t0 <- proc.time()[["elapsed"]]
  model <- tryCatch(
    stan_model(file = file.path(adv_dir, paste0(mname, ".stan")), model_name = mname),
    error = function(e) e)
  entry$compile_s <- round(proc.time()[["elapsed"]] - t0, 1)
  say("compiled in %.1f s", entry$compile_s)
  for (alg in ALGORITHMS) {
    if (inherits(model, "error")) {
      entry[[alg]] <- list(error = paste("compile failed:", conditionMessage(model)))
      next
    }
    r <- run_vb(model, data, alg)
    message(paste0("  | ", r$console, collapse = "\n"))
    for (w in r$warnings) say("  warning: %s", w)
    for (m in r$messages) say("  message: %s", m)
    if (!is.null(r$error)) say("  error: %s", r$error)
    s <- summarise_vb(r, ref)
    say("-- %s %s: %.2f s, k-hat %s, worst mean error %s, sd ratio %s..%s%s", post, alg, r$time_s,
        format(s$khat), format(s$worst_mean_error), format(s$sd_ratio_min),
        format(s$sd_ratio_max), if (!is.null(s$error)) paste(" ERROR:", s$error) else "")
    entry[[alg]] <- s
  }
  results[[post]] <- entry
}

# ---- outputs ---------------------------------------------------------------------------------------
cpu <- tryCatch({
  l <- system("lscpu", intern = TRUE)
  trimws(sub("^Model name:", "", l[grepl("^Model name:", l)][1]))
}, error = function(e) "unknown")
cores <- parallel::detectCores()
full_args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", full_args[grepl("^--file=", full_args)][1])
command <- paste(c(if (nzchar(only)) paste0("ADVI_POSTERIORS=", only), "Rscript", script, args),
                 collapse = " ")
date <- format(Sys.time(), "%Y-%m-%d %H:%M %Z")
versions <- sprintf("rstan %s (StanHeaders %s), %s", packageVersion("rstan"),
                    packageVersion("StanHeaders"), R.version.string)

f2 <- function(x, d = 2) if (is.null(x)) "-" else formatC(x, digits = d, format = "f")
fs <- function(x) if (is.null(x)) "-" else formatC(x, digits = 3, format = "g")
rows <- character()
notes <- character()
for (post in names(results)) for (alg in ALGORITHMS) {
  s <- results[[post]][[alg]]
  if (!is.null(s$error)) {
    rows <- c(rows, sprintf("| %s | %s | failed | - | - | %s |", post, alg, f2(s$time_s, 1)))
    notes <- c(notes, sprintf("- %s %s: error: %s", post, alg, gsub("\\s+", " ", s$error)))
  } else {
    rows <- c(rows, sprintf("| %s | %s | %s (%s) | %s (%s) .. %s (%s) | %s | %s |", post, alg,
                            fs(s$worst_mean_error), s$worst_mean_error_element,
                            fs(s$sd_ratio_min), s$sd_ratio_min_element,
                            fs(s$sd_ratio_max), s$sd_ratio_max_element,
                            f2(s$khat), f2(s$time_s, 2)))
  }
  for (w in unique(as.character(s$warnings)))
    notes <- c(notes, sprintf("- %s %s: %s", post, alg, gsub("\\s+", " ", w)))
  if (length(s$not_compared))
    notes <- c(notes, sprintf("- %s %s: reference elements not in vb output: %s", post, alg,
                              paste(s$not_compared, collapse = ", ")))
}
for (post in names(results)) if (!grepl("^reference draws", results[[post]]$reference$source))
  notes <- c(notes, sprintf("- %s: reference mean/sd from %s", post, results[[post]]$reference$source))

table <- c("| posterior | algorithm | worst mean error (ref sd) | sd ratio | k-hat | vb s |",
           "|---|---|---|---|---|---|", rows)
cat(table, sep = "\n")
cat("\n")
if (length(notes)) cat(c("Notes:", notes), sep = "\n")

md <- c("# rstan ADVI (rstan::vb) on posteriordb posteriors vs posteriordb reference draws", "",
        sprintf("- machine: %s, %d cores", cpu, cores),
        sprintf("- date: %s", date),
        sprintf("- versions: %s", versions),
        sprintf("- command (from the repo root): `%s`", command),
        sprintf("- posteriordb: stan-dev/posteriordb commit %s", pdb_commit),
        sprintf(paste0("- vb settings: rstan defaults (iter = %d, tol_rel_obj = %g, output_samples = %d, ",
                       "eta adapted), seed = %d; one run per algorithm"),
                VB_ITER, TOL_REL_OBJ, OUTPUT_SAMPLES, SEED),
        paste0("- worst mean error = max over elements of |vb mean - ref mean| / ref sd; sd ratio = ",
               "vb sd / ref sd (lowest .. highest over elements); k-hat = rstan's PSIS Pareto k of ",
               "the approximation; vb s = wall time of the vb() call (compilation excluded)."),
        "- per-element numbers: results.json", "",
        table, "")
if (length(notes)) md <- c(md, "Notes:", "", notes, "")
writeLines(md, md_path)

out <- list(
  source = paste0("rstan::vb (ADVI) on posteriordb posteriors; command: ", command),
  date = date, machine = list(cpu = cpu, cores = cores), versions = versions,
  posteriordb_commit = pdb_commit,
  settings = list(iter = VB_ITER, tol_rel_obj = TOL_REL_OBJ, output_samples = OUTPUT_SAMPLES,
                  seed = SEED, algorithms = ALGORITHMS),
  posteriors = results)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = I(6), null = "null",
                  na = "string"), json_path)
say("wrote %s and %s", json_path, md_path)
