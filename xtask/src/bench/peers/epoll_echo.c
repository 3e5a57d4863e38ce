/* The native-code peer of `cargo xtask bench`: a plain C echo server on 127.0.0.1:PORT.
 * One thread, one level-triggered epoll_wait loop, accept4 with SOCK_NONBLOCK, and a 64 KiB
 * buffer per connection: read into it when it is empty, write it out, and wait for EPOLLOUT only
 * when a write comes up short. Compiled at bench time with `cc -O2`; ended by SIGTERM/SIGKILL.
 * Usage: epoll_echo PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (64 * 1024)

struct conn { int fd, out; size_t len, off; char buf[BUF]; }; /* out: registered for EPOLLOUT */

static void finish(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Writes what is buffered; returns 0 when all of it went, 1 when the socket is full, -1 on error. */
static int flush(struct conn *c) {
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
        c->off += (size_t)n;
    }
    c->len = c->off = 0;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1024)) return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
                    struct epoll_event cev = { .events = EPOLLIN, .data.ptr = nc };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            int r = 0;
            if (c->len == 0) {
                ssize_t got = read(c->fd, c->buf, BUF);
                if (got == 0 || (got < 0 && errno != EAGAIN)) { finish(ep, c); continue; }
                if (got > 0) { c->len = (size_t)got; r = flush(c); }
            } else {
                r = flush(c);
            }
            if (r < 0) { finish(ep, c); continue; }
            if (r != c->out) {
                struct epoll_event cev = { .events = r ? EPOLLOUT : EPOLLIN, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                c->out = r;
            }
        }
    }
}
