"""What the generated modules assume of OpenBLAS, in one place.

OpenBLAS runs a matrix product on one thread when m * n * k <= 4 * 65536 (its
GEMM_MULTITHREAD_THRESHOLD times SMP_THRESHOLD_MIN). On two threads every product waits for the
slower one, so a busy second core stalls all of them (measured: 0.29x of the quiet speed at 1024
images, no loss at 256). Both module forms size their chunks to stay under this limit.
"""

SINGLE_THREAD_PRODUCT = 4 * 65536
