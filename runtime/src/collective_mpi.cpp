// The MPI world as a vmc::runtime::Collective (runtime/include/vmc/collective.hpp): Open MPI
// (Debian's libopenmpi-dev), built with -DVMC_MPI=ON into the vmc_runtime_mpi library.
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "vmc/collective.hpp"

namespace vmc::runtime {
namespace {

void check(int status, const char* what) {
  if (status != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(status, text, &n);
    throw std::runtime_error(std::string("MPI: ") + what + ": " + std::string(text, static_cast<std::size_t>(n)));
  }
}

// MPI's counts are ints: a message past 2 GiB is refused rather than truncated.
int count_of(std::int64_t n, const char* what) {
  if (n < 0 || n > INT_MAX) throw std::runtime_error(std::string("MPI: ") + what + ": a message of more than 2 GiB");
  return static_cast<int>(n);
}

class MpiWorld final : public Collective {
 public:
  MpiWorld() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // Errors come back as codes (and become exceptions) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiWorld() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void sum(float* v, std::size_t n) override { sum_in_place(v, n, MPI_FLOAT); }
  void sum(double* v, std::size_t n) override { sum_in_place(v, n, MPI_DOUBLE); }

  std::int64_t max(std::int64_t v) override {
    std::int64_t out = v;
    check(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "allreduce");
    return out;
  }

  void exchange(const unsigned char* send, const std::int64_t* send_bytes, unsigned char* recv,
                const std::int64_t* recv_bytes) override {
    counts_.assign(4 * static_cast<std::size_t>(size_), 0);
    int* sc = counts_.data();
    int* sd = sc + size_;
    int* rc = sd + size_;
    int* rd = rc + size_;
    std::int64_t s_at = 0, r_at = 0;
    for (int q = 0; q < size_; ++q) {
      sc[q] = count_of(send_bytes[q], "exchange");
      rc[q] = count_of(recv_bytes[q], "exchange");
      sd[q] = count_of(s_at, "exchange");
      rd[q] = count_of(r_at, "exchange");
      s_at += send_bytes[q];
      r_at += recv_bytes[q];
    }
    check(MPI_Alltoallv(send, sc, sd, MPI_BYTE, recv, rc, rd, MPI_BYTE, MPI_COMM_WORLD), "alltoallv");
  }

  void broadcast(std::string& bytes, int root) override {
    std::int64_t n = static_cast<std::int64_t>(bytes.size());
    check(MPI_Bcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "broadcast");
    bytes.resize(static_cast<std::size_t>(n));
    check(MPI_Bcast(bytes.data(), count_of(n, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
  }

  [[noreturn]] void abort(int status) override {
    MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);
  }

 private:
  void sum_in_place(void* v, std::size_t n, MPI_Datatype type) {
    // In chunks below INT_MAX elements; one call for any gradient a model here has.
    auto* p = static_cast<unsigned char*>(v);
    int size = 0;
    MPI_Type_size(type, &size);
    while (n > 0) {
      std::size_t chunk = n < static_cast<std::size_t>(INT_MAX) ? n : static_cast<std::size_t>(INT_MAX);
      check(MPI_Allreduce(MPI_IN_PLACE, p, static_cast<int>(chunk), type, MPI_SUM, MPI_COMM_WORLD), "allreduce");
      p += chunk * static_cast<std::size_t>(size);
      n -= chunk;
    }
  }

  int rank_ = 0, size_ = 1;
  std::vector<int> counts_;
};

}  // namespace

std::unique_ptr<Collective> mpi_world(int* argc, char*** argv) {
  if (launcher_size() <= 1) return nullptr;  // not started by mpirun: no MPI at all
  // Open MPI's shared-memory transport copies large messages between processes on one node
  // either through the shared segment or straight from the other process (CMA,
  // process_vm_readv). For a gradient's allreduce the first measured 1.5-2x as fast on these
  // VMs (2.61 MB: 135 against 200 µs, 237 against 474 µs; bench/README.md), and CMA fails in
  // containers that forbid ptrace. A value the user set wins.
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", /*overwrite=*/0);
  int initialized = 0;
  MPI_Initialized(&initialized);
  // Serialized: vmc's command runs on a thread with a large stack (support/stack.hpp), not on
  // the thread that initialises and finalises MPI; one thread calls MPI at a time.
  int provided = 0;
  if (!initialized && MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
    throw std::runtime_error("MPI: MPI_Init_thread failed");
  }
  return std::make_unique<MpiWorld>();
}

bool mpi_built() { return true; }

}  // namespace vmc::runtime
