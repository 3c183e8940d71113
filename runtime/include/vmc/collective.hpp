// The ranks of a data-parallel fit (`mpirun -np R vmc fit ...`): the few collective operations
// the engine needs of them, behind an interface so the runtime itself never depends on MPI.
// Open MPI's implementation is runtime/src/collective_mpi.cpp (built with -DVMC_MPI=ON, in the
// vmc_runtime_mpi library); tests also run R ranks as threads of one process
// (tests/unit/thread_ranks.hpp).
//
// Every rank calls every operation in the same order with the same sizes (they are collective);
// an operation returns the same result on every rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vmc::runtime {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank's `v` summed element by element, in place, the same on every rank.
  virtual void sum(float* v, std::size_t n) = 0;
  virtual void sum(double* v, std::size_t n) = 0;
  // The largest of every rank's `v`.
  virtual std::int64_t max(std::int64_t v) = 0;
  // Bytes to every rank and from every rank: send_bytes[q] bytes from `send` (in rank order)
  // go to rank q, which receives recv_bytes[me] of them into its `recv` (also in rank order).
  virtual void exchange(const unsigned char* send, const std::int64_t* send_bytes, unsigned char* recv,
                        const std::int64_t* recv_bytes) = 0;
  // `bytes` of rank `root` on every rank.
  virtual void broadcast(std::string& bytes, int root) = 0;
  // Stops every rank at once with `status` (a rank that cannot go on while the others wait in
  // a collective). Does not return.
  [[noreturn]] virtual void abort(int status) = 0;
};

// The MPI world when this process was started by mpirun (or another MPI launcher) and vmc was
// built with MPI; nullptr otherwise. Initialises MPI on the first call; MPI is finalised when
// the returned object is destroyed.
std::unique_ptr<Collective> mpi_world(int* argc, char*** argv);
// Whether this vmc was built with MPI (-DVMC_MPI=ON).
bool mpi_built();
// The number of processes the launcher started (from its environment: OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, ...), 1 when none; known without initialising MPI.
int launcher_size();

}  // namespace vmc::runtime
