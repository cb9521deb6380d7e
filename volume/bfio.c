/*
 * bfio.c - the bounds layer between libbde and the disk: a libbfio handle
 * that reads one byte range of a descriptor we opened, and nothing past
 * its ends.
 *
 * Why not libbfio's own file-range handle: it opens the file again by
 * name (a second open that can race with a swapped file and that the
 * fuzz target's memfd would need a path for), and its bounds are only as
 * good as its own checks.  Here every read is a pread clipped to the
 * range, so metadata offsets past the end of a partition read nothing
 * instead of the next partition.
 */
#include "volume/volume_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct range {
	int fd;			/* borrowed */
	uint64_t base, size;	/* the window of fd */
	uint64_t pos;		/* current offset inside the window */
	int open;
	int past_end;		/* a read wanted bytes past the window */
};

static int
range_free(intptr_t **io, libbfio_error_t **error)
{
	free(*io);
	*io = NULL;
	return 1;
}

static int
range_clone(intptr_t **dst, intptr_t *src, libbfio_error_t **error)
{
	struct range *r;

	if (src == NULL)
		return -1;
	r = malloc(sizeof(*r));
	if (r == NULL)
		return -1;
	memcpy(r, src, sizeof(*r));
	r->open = 0;
	r->pos = 0;
	*dst = (intptr_t *)r;
	return 1;
}

static int
range_open(intptr_t *io, int flags, libbfio_error_t **error)
{
	struct range *r = (struct range *)io;

	/* read-only: nothing here ever writes to a disk */
	if ((flags & LIBBFIO_ACCESS_FLAG_WRITE) != 0)
		return -1;
	r->open = 1;
	r->pos = 0;
	return 1;
}

static int
range_close(intptr_t *io, libbfio_error_t **error)
{
	((struct range *)io)->open = 0;
	return 0;
}

static ssize_t
range_read(intptr_t *io, uint8_t *buf, size_t size, libbfio_error_t **error)
{
	struct range *r = (struct range *)io;
	size_t done = 0;

	if (!r->open || size > SSIZE_MAX)
		return -1;
	if (size > 0 && (r->pos >= r->size || size > r->size - r->pos))
		r->past_end = 1;
	if (r->pos >= r->size)
		return 0;
	if (size > r->size - r->pos)
		size = (size_t)(r->size - r->pos);
	while (done < size) {
		ssize_t n = pread(r->fd, buf + done, size - done,
		    (off_t)(r->base + r->pos + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)	/* the file shrank under us */
			break;
		done += (size_t)n;
	}
	r->pos += done;
	return (ssize_t)done;
}

static ssize_t
range_write(intptr_t *io, const uint8_t *buf, size_t size,
    libbfio_error_t **error)
{
	return -1;
}

static off64_t
range_seek(intptr_t *io, off64_t off, int whence, libbfio_error_t **error)
{
	struct range *r = (struct range *)io;
	int64_t from;

	switch (whence) {
	case SEEK_SET:
		from = 0;
		break;
	case SEEK_CUR:
		from = (int64_t)r->pos;
		break;
	case SEEK_END:
		from = (int64_t)r->size;
		break;
	default:
		return -1;
	}
	/* the window fits an off_t (vol_bfio_range), so from does too */
	if ((off > 0 && from > INT64_MAX - off) || from + off < 0)
		return -1;
	r->pos = (uint64_t)(from + off);
	return (off64_t)r->pos;
}

static int
range_exists(intptr_t *io, libbfio_error_t **error)
{
	return 1;
}

static int
range_is_open(intptr_t *io, libbfio_error_t **error)
{
	return ((struct range *)io)->open;
}

static int
range_size(intptr_t *io, size64_t *size, libbfio_error_t **error)
{
	*size = ((struct range *)io)->size;
	return 1;
}

libbfio_handle_t *
vol_bfio_range(int fd, uint64_t base, uint64_t size)
{
	libbfio_handle_t *h = NULL;
	struct range *r;

	if (base > INT64_MAX || size > INT64_MAX - base)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->fd = fd;
	r->base = base;
	r->size = size;
	/* managed: libbfio frees r through range_free with the handle */
	if (libbfio_handle_initialize(&h, (intptr_t *)r, range_free,
	    range_clone, range_open, range_close, range_read, range_write,
	    range_seek, range_exists, range_is_open, range_size,
	    LIBBFIO_FLAG_IO_HANDLE_MANAGED, NULL) != 1) {
		free(r);
		return NULL;
	}
	return h;
}

const char *
vol_bde_error(libbde_error_t **error, char *buf, size_t size)
{
	char all[2048], *line, *colon;
	size_t n;

	snprintf(buf, size, "unknown error");
	if (error == NULL || *error == NULL)
		return buf;
	/*
	 * libbde's error is a stack of "function: message." lines, the
	 * innermost first ("libbde_metadata_read_block: unable to read FVE
	 * metadata block."); that one says what was wrong with the data.
	 */
	if (libbde_error_backtrace_sprint(*error, all, sizeof(all)) > 0) {
		all[sizeof(all) - 1] = '\0';
		line = all;
		line[strcspn(line, "\r\n")] = '\0';
		colon = strstr(line, ": ");
		if (colon != NULL && strchr(line, ' ') > colon)
			line = colon + 2;
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '.' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (n > 0)
			snprintf(buf, size, "%s", line);
	}
	libbde_error_free(error);
	/* it may quote bytes from the disk: keep them from the terminal */
	for (line = buf; *line != '\0'; line++)
		if ((unsigned char)*line < 0x20 || (unsigned char)*line >= 0x7F)
			*line = '?';
	return buf;
}

int
vol_bfio_past_end(libbfio_handle_t *h)
{
	intptr_t *io = NULL;

	if (h == NULL || libbfio_handle_get_io_handle(h, &io, NULL) != 1 ||
	    io == NULL)
		return 0;
	return ((struct range *)io)->past_end;
}
