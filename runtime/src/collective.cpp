// What the runtime knows of a launcher without MPI itself (runtime/include/vmc/collective.hpp).
#include <cstdlib>

#include "vmc/collective.hpp"

namespace vmc::runtime {

int launcher_size() {
  // Open MPI's mpirun sets the first; MPICH's Hydra (and Slurm's srun with PMI) the second.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* v = std::getenv(name)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return 1;
}

}  // namespace vmc::runtime
