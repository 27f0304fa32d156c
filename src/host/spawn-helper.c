/*
 * cnmd-spawn: starts the daemon's short-lived host commands (ip, nft, iptables-restore, nsenter…)
 * on its behalf. A Node process's spawn forks its whole address space and waits until the child has
 * exec'd: 2-3 ms of the daemon's single thread per command at its size. This helper is small and
 * uses posix_spawn (vfork, no copy), so the daemon's thread pays only for a message.
 *
 * Protocol, on the helper's stdin and stdout; every integer a little-endian u32:
 *   request  [len][id][argc] argc NUL-terminated strings (the file first, looked up in PATH), then
 *            the command's stdin to the end of the frame
 *   answers  [len][1][id][pid]                       started
 *            [len][2][id][errno]                     could not start
 *            [len][3][id][wait status][n] out [n] err ended, with all it wrote on stdout and stderr
 * The command gets the helper's environment and no other descriptor. The helper leaves when its
 * stdin closes (the daemon is gone) and its commands have ended.
 *
 * `nsenter --net=PATH FILE ARGS…` (no other option) is started as nsenter would leave it, without
 * nsenter: the helper (one thread) enters the namespace at PATH, starts FILE there and goes back to
 * its own. That saves nsenter's start (its libraries and locale, 3-4 ms here). Where PATH cannot be
 * entered, nsenter itself runs, and says why.
 *
 * `ip -batch -` (the host's link batch of every create, connect, start and delete) is started ahead:
 * once one has run, the helper keeps a spare one started in its own namespace, waiting on its stdin,
 * and hands the next such request to it, so that request does not wait for a process to be made and
 * loaded. The spare has done nothing before its input comes (ip looks names up as each line runs),
 * so it is the same as one started then; one that ended on its own is not used. When the helper's
 * stdin closes, the spare's does too, and it ends having done nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct buf { char *p; size_t len, cap; };

struct child {
  uint32_t id;
  pid_t pid;
  int in, out, err; /* -1 once closed */
  char *input; size_t input_len, input_off;
  struct buf o, e;
  int exited, status;
};

/* the helper's own network namespace, to go back to after starting a command in another */
static int own_netns = -1;

/* argv is `nsenter --net=PATH FILE …` and the helper entered PATH: FILE's argv; else NULL */
static char **entered(char **argv, uint32_t argc) {
  if (argc < 3 || own_netns < 0 || strcmp(argv[0], "nsenter") || strncmp(argv[1], "--net=", 6) || argv[2][0] == '-') return NULL;
  int fd = open(argv[1] + 6, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  int rc = setns(fd, CLONE_NEWNET);
  close(fd);
  return rc == 0 ? argv + 2 : NULL;
}

static struct child *kids;
static size_t nkids, capkids;
static struct buf req;

static void die(const char *what) {
  (void)!write(2, "cnmd-spawn: ", 12);
  (void)!write(2, what, strlen(what));
  (void)!write(2, "\n", 1);
  exit(1);
}

static void grow(struct buf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  b->p = realloc(b->p, cap);
  if (!b->p) die("out of memory");
  b->cap = cap;
}

static void put32(struct buf *b, uint32_t v) {
  grow(b, 4);
  memcpy(b->p + b->len, &v, 4);
  b->len += 4;
}

static uint32_t get32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(1, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(0); /* the daemon is gone */
    p += w;
    n -= (size_t)w;
  }
}

static void answer(uint32_t type, uint32_t id, uint32_t v, const struct child *c) {
  struct buf b = {0};
  put32(&b, 0);
  put32(&b, type);
  put32(&b, id);
  put32(&b, v);
  if (c) {
    put32(&b, (uint32_t)c->o.len);
    grow(&b, c->o.len);
    if (c->o.len) memcpy(b.p + b.len, c->o.p, c->o.len);
    b.len += c->o.len;
    put32(&b, (uint32_t)c->e.len);
    grow(&b, c->e.len);
    if (c->e.len) memcpy(b.p + b.len, c->e.p, c->e.len);
    b.len += c->e.len;
  }
  uint32_t len = (uint32_t)(b.len - 4);
  memcpy(b.p, &len, 4);
  write_all(b.p, b.len);
  free(b.p);
}

static void closefd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* starts run[0] with pipes on its stdin, stdout and stderr: fds gets their other ends; posix_spawn's error */
static int spawn(char **run, pid_t *pid, int fds[3]) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) die("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGCHLD);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawnp(pid, run[0], &fa, &at, run, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return rc;
  }
  fds[0] = in[1];
  fds[1] = out[0];
  fds[2] = err[0];
  return 0;
}

/* the spare `ip -batch -`: pid 0 when there is none */
static struct { pid_t pid; int fds[3]; } spare;

static int is_ip_batch(char **argv, uint32_t argc) {
  return argc == 3 && !strcmp(argv[0], "ip") && !strcmp(argv[1], "-batch") && !strcmp(argv[2], "-");
}

static void make_spare(void) {
  static char *argv[] = { "ip", "-batch", "-", NULL };
  pid_t pid;
  if (spawn(argv, &pid, spare.fds) == 0) spare.pid = pid;
}

/* drops the spare (it ended on its own, or the helper is leaving): closing its stdin ends it */
static void drop_spare(void) {
  if (!spare.pid) return;
  for (int i = 0; i < 3; i++) close(spare.fds[i]);
  spare.pid = 0;
}

static void feed(struct child *c);

/* one request frame (without its length): start the command */
static void start(const char *p, size_t n) {
  if (n < 8) die("short request");
  uint32_t id = get32(p), argc = get32(p + 4);
  size_t off = 8;
  if (argc == 0 || argc > 4096) die("bad argument count");
  char **argv = calloc(argc + 1, sizeof *argv);
  if (!argv) die("out of memory");
  for (uint32_t i = 0; i < argc; i++) {
    const char *end = memchr(p + off, 0, n - off);
    if (!end) die("unterminated argument");
    argv[i] = (char *)p + off;
    off = (size_t)(end - p) + 1;
  }
  pid_t pid;
  int fds[3];
  int rc = 0;
  int batch = is_ip_batch(argv, argc);
  if (batch && spare.pid) {
    pid = spare.pid;
    memcpy(fds, spare.fds, sizeof fds);
    spare.pid = 0;
  } else {
    char **inside = entered(argv, argc);
    rc = spawn(inside ? inside : argv, &pid, fds);
    if (inside && setns(own_netns, CLONE_NEWNET)) die("cannot go back to its own network namespace");
  }
  free(argv);
  if (rc) {
    answer(2, id, (uint32_t)rc, NULL);
    return;
  }
  if (nkids == capkids) {
    capkids = capkids ? capkids * 2 : 16;
    kids = realloc(kids, capkids * sizeof *kids);
    if (!kids) die("out of memory");
  }
  struct child *c = &kids[nkids++];
  memset(c, 0, sizeof *c);
  c->id = id;
  c->pid = pid;
  c->in = fds[0];
  c->out = fds[1];
  c->err = fds[2];
  fcntl(c->in, F_SETFL, O_NONBLOCK);
  c->input_len = n - off;
  if (c->input_len) {
    c->input = malloc(c->input_len);
    if (!c->input) die("out of memory");
    memcpy(c->input, p + off, c->input_len);
    /* at once: a spare is waiting for it (the rest, if the pipe is full, when it can take more) */
    feed(c);
  } else {
    closefd(&c->in);
  }
  answer(1, id, (uint32_t)pid, NULL);
  if (batch && !spare.pid) make_spare();
}

static void drain(int *fd, struct buf *b) {
  grow(b, 65536);
  ssize_t r = read(*fd, b->p + b->len, b->cap - b->len);
  if (r > 0) b->len += (size_t)r;
  else if (r == 0 || (errno != EINTR && errno != EAGAIN)) closefd(fd);
}

static void feed(struct child *c) {
  ssize_t w = write(c->in, c->input + c->input_off, c->input_len - c->input_off);
  if (w > 0) c->input_off += (size_t)w;
  else if (w < 0 && errno != EINTR && errno != EAGAIN) c->input_off = c->input_len; /* it closed its stdin */
  if (c->input_off == c->input_len) {
    closefd(&c->in);
    free(c->input);
    c->input = NULL;
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  /* a command's output buffer of 128 KiB or more is its own mapping, unmapped when freed: glibc would
     otherwise raise that threshold after the first large one and keep the heap at its largest (a
     repair's `ip -json` at 1000 networks is 1.7 MB) */
#ifdef M_MMAP_THRESHOLD
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
  own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  int open_in = 1;
  struct pollfd *fds = NULL;
  size_t capfds = 0;
  for (;;) {
    if (!open_in && nkids == 0) return 0;
    size_t want = 2 + nkids * 3;
    if (want > capfds) {
      capfds = want * 2;
      fds = realloc(fds, capfds * sizeof *fds);
      if (!fds) die("out of memory");
    }
    size_t nf = 0;
    fds[nf++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
    fds[nf++] = (struct pollfd){ .fd = open_in ? 0 : -1, .events = POLLIN };
    for (size_t i = 0; i < nkids; i++) {
      fds[nf++] = (struct pollfd){ .fd = kids[i].in, .events = POLLOUT };
      fds[nf++] = (struct pollfd){ .fd = kids[i].out, .events = POLLIN };
      fds[nf++] = (struct pollfd){ .fd = kids[i].err, .events = POLLIN };
    }
    if (poll(fds, nf, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (size_t i = 0; i < nkids; i++) {
      struct child *c = &kids[i];
      struct pollfd *f = &fds[2 + i * 3];
      if (c->in >= 0 && f[0].revents) feed(c);
      if (c->out >= 0 && f[1].revents) drain(&c->out, &c->o);
      if (c->err >= 0 && f[2].revents) drain(&c->err, &c->e);
    }
    if (fds[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      int st;
      pid_t pid;
      while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == spare.pid) drop_spare();
        for (size_t i = 0; i < nkids; i++)
          if (kids[i].pid == pid) {
            kids[i].exited = 1;
            kids[i].status = st;
          }
      }
    }
    /* ended: exited, and all it wrote read */
    for (size_t i = 0; i < nkids;) {
      struct child *c = &kids[i];
      if (c->exited && c->out < 0 && c->err < 0) {
        answer(3, c->id, (uint32_t)c->status, c);
        closefd(&c->in);
        free(c->input);
        free(c->o.p);
        free(c->e.p);
        kids[i] = kids[--nkids];
      } else {
        i++;
      }
    }
    if (open_in && fds[1].revents) {
      grow(&req, 65536);
      ssize_t r = read(0, req.p + req.len, req.cap - req.len);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        open_in = 0;
        drop_spare();
      } else if (r > 0) {
        req.len += (size_t)r;
        size_t off = 0;
        while (req.len - off >= 4) {
          uint32_t len = get32(req.p + off);
          if (req.len - off - 4 < len) break;
          start(req.p + off + 4, len);
          off += 4 + len;
        }
        memmove(req.p, req.p + off, req.len - off);
        req.len -= off;
      }
    }
  }
}
