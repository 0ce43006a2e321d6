#include "base/mmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

cria_status cria_map_file(const char *path, const void **data, size_t *size, cria_error *err)
{
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cria_err_set(err, CRIA_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: file is empty", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot map %lld bytes: %s", path, (long long)st.st_size,
                            strerror(e));
    *data = p;
    *size = (size_t)st.st_size;
    return CRIA_OK;
}

void cria_unmap_file(const void *data, size_t size)
{
    if (data)
        munmap((void *)(uintptr_t)data, size);
}
