// vmc built without MPI (-DVMC_MPI=OFF, or no MPI found): no world to join.
#include "vmc/collective.hpp"

namespace vmc::runtime {

std::unique_ptr<Collective> mpi_world(int*, char***) { return nullptr; }
bool mpi_built() { return false; }

}  // namespace vmc::runtime
