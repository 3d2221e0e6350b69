/* MPI_Allreduce timing for BENCHMARKS.md, reported like nccl-tests (and like efactl doctor):
 * size, count, time (max over ranks), algbw, busbw = algbw * 2(n-1)/n.
 * Usage: mpi_allreduce ITERS SIZE_BYTES...
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    int iters = argc > 1 ? atoi(argv[1]) : 5;
    if (rank == 0) printf("bytes,count,time_us,algbw_GBs,busbw_GBs,correct\n");
    for (int a = 2; a < argc; a++) {
        long bytes = atol(argv[a]);
        long count = bytes / 4;
        float *in = malloc(count * sizeof(float)), *out = malloc(count * sizeof(float));
        for (long j = 0; j < count; j++) in[j] = (float)((rank + 1) * ((j % 7) + 1));
        MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        int ok = 1;
        float total = (float)(n * (n + 1) / 2);
        for (long j = 0; j < count; j++) if (out[j] != total * ((j % 7) + 1)) { ok = 0; break; }
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < iters; i++) MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = (MPI_Wtime() - t0) / iters, tmax;
        MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            double alg = count * 4.0 / tmax / 1e9;
            printf("%ld,%ld,%.1f,%.3f,%.3f,%d\n", count * 4, count, tmax * 1e6, alg, alg * 2.0 * (n - 1) / n, ok);
        }
        free(in);
        free(out);
    }
    MPI_Finalize();
    return 0;
}
