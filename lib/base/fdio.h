/*
 * fdio.h - whole writes on file descriptors.
 *
 * write(2) and pwrite(2) may write less than asked (signals, pipes, full
 * disks report the short count first); these loop until everything is
 * written, retrying EINTR.  They return 0, or -1 with errno set.
 * vb_pread_all reads n bytes the same way; a file that ends first is
 * -1 with errno ENODATA.
 */
#ifndef VB_FDIO_H
#define VB_FDIO_H

#include <stddef.h>
#include <sys/types.h>

int vb_write_all(int fd, const void *p, size_t n);
int vb_pwrite_all(int fd, const void *p, size_t n, off_t off);
int vb_pread_all(int fd, void *p, size_t n, off_t off);

#endif
