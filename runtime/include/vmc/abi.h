/* The one seam between the compiler and the runtime (ARCHITECTURE.md, "The boundary that
 * matters"). A compiled model is a set of kernels over flat, row-major buffers of its
 * precision, plus a description of those buffers. The runtime calls the kernels and provides
 * the dense-algebra routines they call back into; it needs no knowledge of LLVM or the
 * language. Plain C, so a host in any language (or a model built ahead of time into a shared
 * object) can use it. */
#ifndef VMC_ABI_H
#define VMC_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: kernels and the dense-algebra routines take the caller's context (vmc_context).
 * 3: vmc_model_info::samples and importance_weighted, the samples the runtime draws. */
#define VMC_ABI_VERSION 3

/* The runtime's state for one kernel call, opaque to the kernel: where the products it may defer
 * go, who times them (vmc bench). A kernel passes the pointer it was given to every routine below
 * that takes one, unchanged; a null context is fine (the routines then just compute). */
typedef struct vmc_context vmc_context;

/* A kernel: reads `inputs` (one pointer per input, in the model's input order), the run-time
 * sizes `sizes` (one per size symbol, in the model's symbol order), writes `outputs` (one
 * pointer per output), and uses `workspace` (at least workspace_bytes(sizes) bytes, 64-byte
 * aligned) for its intermediates; `context` goes to the routines it calls. No allocation, no
 * global state: kernels are reentrant, so threads may run them at once on separate workspaces. */
typedef void (*vmc_kernel)(const void* const* inputs, const int64_t* sizes, void* const* outputs,
                           void* workspace, vmc_context* context);

/* The workspace a kernel needs for the given run-time sizes. */
typedef int64_t (*vmc_workspace_bytes)(const int64_t* sizes);

/* --- what a compiled model's buffers are: all the runtime needs to know of the model --- */

/* What an input buffer holds. */
enum vmc_buffer_kind {
  VMC_PARAM = 0,    /* a param, unconstrained (see vmc_transform) */
  VMC_DATA = 1,     /* observed values: the whole array, or a subsampled plate's minibatch rows */
  VMC_NOISE = 2,    /* standard-normal draws ε, one per element */
  VMC_UNIFORM = 3,  /* uniform(0, 1) draws, one per element */
  VMC_SIZE = 4,     /* a run-time size as a real scalar (N, M for the N/M scaling) */
  VMC_INDEX = 5,    /* int64 row indices: the minibatch's rows of the full data */
  VMC_OUTPUT = 6,   /* a kernel's output */
  VMC_WEIGHT = 7    /* an importance-weighted bound's weight of the sample drawn, per datapoint
                       (its log-weight's softmax over the K samples; see vmc_model_info) */
};

/* How a param's unconstrained value u maps onto its support. */
enum vmc_transform {
  VMC_IDENTITY = 0,
  VMC_LOWER = 1,     /* lower + exp(u) */
  VMC_UPPER = 2,     /* upper − exp(u) */
  VMC_INTERVAL = 3,  /* lower + (upper − lower)·sigmoid(u) */
  VMC_CHOLESKY = 4   /* strict lower triangle of u, exp of its diagonal */
};

typedef struct vmc_buffer_info {
  const char* name;        /* "dec_W", "x", "eps.z", "index.N", "grad.dec_W", ... */
  int32_t kind;            /* enum vmc_buffer_kind */
  int32_t is_int;          /* 1: int64 elements (indices, int data used as indices); 0: reals */
  int32_t rank;
  const int64_t* extents;  /* rank entries: ≥ 0 a constant; −(s + 1) the run-time size s */
  int32_t transform;       /* params: enum vmc_transform */
  double lower, upper;     /* params: the transform's bounds */
  const char* role;        /* data: the subsampled plate's dim it is batched over, or "" */
} vmc_buffer_info;

typedef struct vmc_kernel_info {
  const char* name;  /* "elbo_grad", "elbo", "sample_guide", "sample_model", "reconstruct" */
  vmc_kernel entry;
  vmc_workspace_bytes workspace_bytes;
  int32_t n_outputs;
  const vmc_buffer_info* outputs;
  /* n_inputs flags, one per model input: 1 when this kernel reads it. An input a kernel does not
   * read may be passed as a null pointer (and its noise need not be drawn). */
  const int32_t* reads;
} vmc_kernel_info;

typedef struct vmc_model_info {
  int32_t abi_version;      /* VMC_ABI_VERSION */
  int32_t real_bytes;       /* 4 (f32) or 8 (f64): the element size of real buffers */
  int32_t n_sizes;
  const char* const* sizes; /* the run-time size symbols, in the `sizes` array's order */
  /* What each size symbol stands for: a dim's name when it is that dim's full extent (then it is
   * the symbol itself), or the subsampled plate's dim when it is that plate's minibatch size. */
  const char* const* size_dims;
  int32_t n_inputs;
  const vmc_buffer_info* inputs; /* in the `inputs` array's order */
  /* 1 when the objective is a part that does not depend on the minibatch's rows plus a sum over
   * them, so a batch may be split across threads (each thread's rows scaled by the whole
   * batch's N/M, the row-independent part counted once); 0 for an importance-weighted bound with global latents, whose
   * log-sum-exp couples all rows. */
  int32_t rows_additive;
  /* 1 when the objective has a part that does not depend on the minibatch's rows (global
   * latents, terms outside the subsampled plate); 0 when it is a sum over the rows alone, so a
   * split batch's parts simply add. */
  int32_t row_free_part;
  /* The samples of every estimate (--samples): the kernels compute one sample, and the runtime
   * calls them once per sample, each with its own noise, so that the samples cost run time, not
   * copies of the model in the compiled code. A mean estimator's L calls are averaged. An
   * importance-weighted bound's K (importance_weighted = 1) take two passes: the log_weights
   * kernel's log-weight w_k of each sample (per datapoint of the subsampled plate, or one for
   * global latents), then the elbo/elbo_grad kernel per sample with its VMC_WEIGHT input
   * c_k = softmax_k(w): its bound is Σ c_k w_k (N/M-scaled) + the part outside the weights / K,
   * whose gradients summed over k are the bound's; its value is put right by the runtime. */
  int32_t samples;
  int32_t importance_weighted;
  int32_t n_latents;
  const char* const* latents;    /* the latents' names (sample_guide's outputs, in order) */
  int32_t n_kernels;
  const vmc_kernel_info* kernels;
} vmc_model_info;

/* --- routines the runtime provides and generated code calls (bound into the JIT by name) --- */

/* C = alpha · op(A) · op(B) + beta · C, all row-major; op(X) = Xᵀ when transpose_x != 0.
 * op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb, ldc are the row strides as stored (so a
 * sub-matrix is passed by its first element and its parent's stride). As in BLAS, beta = 0 never
 * reads C (it may hold garbage or NaN), and when k = 0 or alpha = 0 neither A nor B is read.
 * Single-threaded: the runtime threads by splitting the minibatch (ARCHITECTURE.md, "Threads"). */
void vmc_gemm_f32(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n,
                  int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                  float beta, float* c, int64_t ldc);
void vmc_gemm_f64(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n,
                  int64_t k, double alpha, const double* a, int64_t lda, const double* b, int64_t ldb,
                  double beta, double* c, int64_t ldc);

/* The same product, emitted for C = op(A)·op(B) (alpha 1, beta 0) when k runs over a subsampled
 * plate's minibatch rows and C is a whole output of the kernel that the kernel neither reads nor
 * writes again, and whose operands it leaves untouched until it returns: typically the gradient
 * of a weight matrix, Xᵀ·δ. The runtime may compute it at any time before the kernel's caller
 * reads C. Alone (a null context, or one that collects none) it is vmc_gemm_*; a runtime that
 * splits a minibatch across threads defers it (into its context),
 * then computes the one product over all threads' rows, each thread a block of C's rows, instead
 * of every thread a whole C of its own rows and a sum of those C's afterwards. */
void vmc_gemm_rows_f32(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                       float beta, float* c, int64_t ldc);
void vmc_gemm_rows_f64(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n,
                       int64_t k, double alpha, const double* a, int64_t lda, const double* b, int64_t ldb,
                       double beta, double* c, int64_t ldc);

/* B := L⁻¹ B (or L⁻ᵀ B when transpose != 0) in place, L lower-triangular k×k (its upper triangle
 * is ignored), B k×n, row-major. */
void vmc_trsm_f32(int32_t transpose, int64_t k, int64_t n, const float* l, float* b);
void vmc_trsm_f64(int32_t transpose, int64_t k, int64_t n, const double* l, double* b);

/* A := L in place, L Lᵀ = A, L lower-triangular with zeros above the diagonal, of the k×k
 * row-major A (only its lower triangle is read); every element NaN if A is not positive definite. */
void vmc_potrf_f32(int64_t k, float* a);
void vmc_potrf_f64(int64_t k, double* a);

/* A loop of the language (compiler/ir/loop.hpp), run by generated code: the state c0
 * (carry_elems reals of real_bytes each) is passed through `body` for t = begin … end − 1, each
 * call a vmc_kernel with inputs {&t (a real), state, invariants[0..n_inv)} and outputs {next
 * state}, and the final state written to `out`. With a non-null carry_bar (the adjoint of the
 * final state) it gives instead the adjoint of operand `which` (2: c0; 3 + k: invariant k): the
 * loop runs forwards keeping every state, then backwards through `vjp` (inputs {&t, state,
 * invariants..., adjoint of the next state}, outputs {adjoint of the state, this iteration's part
 * of the adjoint of each invariant wanted[0..n_wanted), of inv_elems[j] reals}). One backward pass
 * gives them all: a call with `first` set computes them and keeps them (per thread, by vjp, c0 and
 * carry_bar); the calls for the other operands of the same loop, which follow with `first`
 * unset in the same kernel call, copy theirs. Re-entrant (a body may run an inner loop); its
 * memory is kept per thread and nesting depth and reused, so a step allocates nothing once warm. */
void vmc_loop(vmc_kernel body, vmc_workspace_bytes body_workspace, vmc_kernel vjp,
              vmc_workspace_bytes vjp_workspace, const int64_t* sizes, vmc_context* context, int64_t begin,
              int64_t end, int32_t real_bytes, const void* c0, int64_t carry_elems,
              const void* const* invariants, int64_t n_inv, int64_t n_wanted, const int64_t* wanted,
              const int64_t* inv_elems, const void* carry_bar, int64_t which, int32_t first, void* out);

/* Scalar special functions (the same definitions as the reference interpreter's). */
double vmc_lgamma(double x);
double vmc_digamma(double x);
double vmc_trigamma(double x);
double vmc_ndtri(double p);
double vmc_log_ndtr(double x);
/* Discrete quantiles (draws by inversion of uniform noise u): the smallest k with CDF(k) >= u. */
double vmc_poisson_quantile(double u, double rate);
double vmc_binomial_quantile(double u, double n, double p);
double vmc_neg_binomial_2_quantile(double u, double mu, double phi);
double vmc_student_t_quantile(double u, double nu);
/* log I_0(x) and I_1(x) / I_0(x), modified Bessel functions of the first kind. */
double vmc_log_bessel_i0(double x);
double vmc_bessel_i1_over_i0(double x);
/* Gamma(shape, 1)'s and Beta(a, b)'s inverse CDFs at u: forward draws from uniform noise. */
double vmc_gamma_quantile(double u, double shape);
double vmc_beta_quantile(double u, double a, double b);
/* log P(T <= t) for Student's t with nu degrees of freedom, and its derivative in nu. */
double vmc_student_t_log_cdf(double t, double nu);
double vmc_student_t_log_cdf_dnu(double t, double nu);

#ifdef __cplusplus
}
#endif

#endif /* VMC_ABI_H */
