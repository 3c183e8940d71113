// The gradient's allreduce alone, as vmc's ranks make it (bench/README.md, "Data-parallel over MPI"):
//   mpicxx -O2 bench/mpi_allreduce.cpp -o /tmp/ar && mpirun -np 2 --bind-to core /tmp/ar
// (and with OMPI_MCA_btl_vader_single_copy_mechanism=cma for Open MPI's default copy).
#include <mpi.h>
#include <cstdio>
#include <vector>
#include <cstdlib>
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int n : {652824, 967208}) {
    std::vector<float> v(n, 1.0f);
    for (int i = 0; i < 20; ++i) MPI_Allreduce(MPI_IN_PLACE, v.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    int reps = 500;
    for (int i = 0; i < reps; ++i) MPI_Allreduce(MPI_IN_PLACE, v.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double t = (MPI_Wtime() - t0) / reps;
    if (rank == 0) std::printf("allreduce %d floats (%.2f MB): %.0f us, %.2f GB/s algorithmic\n", n, n * 4e-6, t * 1e6, n * 4e-9 / t);
  }
  MPI_Finalize();
}
