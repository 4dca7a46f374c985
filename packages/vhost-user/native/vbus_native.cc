// vbus_native: the few Linux system calls Node lacks and vhost-user and TAP need. Kept tiny and
// checked: every argument is validated here with an error naming the function and the argument,
// and every fd-returning call sets O_NONBLOCK and O_CLOEXEC. Built from source at install (no
// prebuilt binary), against the V8 API because N-API cannot make a SharedArrayBuffer over memory
// it does not own.
//
// Lifetime rule of mmap(): the mapping belongs to the SharedArrayBuffer's backing store and is
// unmapped by V8 when the last SharedArrayBuffer that shares it (in any thread) is collected.
// There is no explicit unmap on purpose: a view over an unmapped page would crash the process.
#include <node.h>
#include <uv.h>
#include <v8.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace vbus_native {

using v8::Array;
using v8::Context;
using v8::Exception;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::Global;
using v8::HandleScope;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Uint8Array;
using v8::Value;

// Most fds a single recvmsg accepts; vhost-user sends at most 8 (VHOST_MEMORY_BASELINE_NREGIONS).
static const int kMaxFds = 32;

static Local<String> Str(Isolate* iso, const std::string& s) {
  return String::NewFromUtf8(iso, s.c_str()).ToLocalChecked();
}

static void ThrowType(Isolate* iso, const std::string& msg) {
  iso->ThrowException(Exception::TypeError(Str(iso, "vbus_native." + msg)));
}
static void ThrowRange(Isolate* iso, const std::string& msg) {
  iso->ThrowException(Exception::RangeError(Str(iso, "vbus_native." + msg)));
}
// A failed system call: an Error whose message names the call, and `code` (e.g. "EBADF").
static void ThrowErrno(Isolate* iso, const std::string& where, int err) {
  Local<Value> e = Exception::Error(Str(iso, "vbus_native." + where + ": " + strerror(err) + " (" + uv_err_name(-err) + ")"));
  e.As<Object>()->Set(iso->GetCurrentContext(), Str(iso, "code"), Str(iso, uv_err_name(-err))).Check();
  e.As<Object>()->Set(iso->GetCurrentContext(), Str(iso, "errno"), Integer::New(iso, err)).Check();
  iso->ThrowException(e);
}

static std::string Num(double v) {
  char b[32];
  snprintf(b, sizeof(b), "%.17g", v);
  return b;
}

// An integer argument in [lo, hi]; false (with an exception thrown) otherwise.
static bool IntArg(const FunctionCallbackInfo<Value>& a, int i, const char* fn, const char* name, double lo, double hi, double* out) {
  Isolate* iso = a.GetIsolate();
  if (i >= a.Length() || !a[i]->IsNumber()) {
    ThrowType(iso, std::string(fn) + ": argument " + name + " must be a number");
    return false;
  }
  double v = a[i].As<Number>()->Value();
  if (v != v || v < lo || v > hi || v != (double)(int64_t)v) {
    ThrowRange(iso, std::string(fn) + ": argument " + name + " = " + Num(v) + " must be an integer in [" + Num(lo) + ", " + Num(hi) + "]");
    return false;
  }
  *out = v;
  return true;
}

static bool FdArg(const FunctionCallbackInfo<Value>& a, int i, const char* fn, int* fd) {
  double v;
  if (!IntArg(a, i, fn, "fd", 0, 2147483647.0, &v)) return false;
  *fd = (int)v;
  return true;
}

static bool BytesArg(const FunctionCallbackInfo<Value>& a, int i, const char* fn, const char* name, char** data, size_t* len) {
  if (i >= a.Length() || !a[i]->IsUint8Array()) {
    ThrowType(a.GetIsolate(), std::string(fn) + ": argument " + name + " must be a Uint8Array");
    return false;
  }
  Local<Uint8Array> u = a[i].As<Uint8Array>();
  *data = static_cast<char*>(u->Buffer()->Data()) + u->ByteOffset();
  *len = u->ByteLength();
  return true;
}

// The (fd, Uint8Array) pair most calls take.
struct FdBytes {
  int fd;
  char* data;
  size_t len;
};
static bool FdBytesArgs(const FunctionCallbackInfo<Value>& a, const char* fn, const char* name, FdBytes* out) {
  return FdArg(a, 0, fn, &out->fd) && BytesArg(a, 1, fn, name, &out->data, &out->len);
}

// A msghdr over one buffer and an optional control area.
static void InitMsg(msghdr* msg, iovec* iov, void* control, size_t controllen) {
  memset(msg, 0, sizeof(*msg));
  msg->msg_iov = iov;
  msg->msg_iovlen = 1;
  msg->msg_control = control;
  msg->msg_controllen = controllen;
}

static bool StringArg(const FunctionCallbackInfo<Value>& a, int i, const char* fn, const char* name, std::string* out) {
  if (i >= a.Length() || !a[i]->IsString()) {
    ThrowType(a.GetIsolate(), std::string(fn) + ": argument " + name + " must be a string");
    return false;
  }
  String::Utf8Value s(a.GetIsolate(), a[i]);
  out->assign(*s, s.length());
  if (out->find('\0') != std::string::npos) {
    ThrowType(a.GetIsolate(), std::string(fn) + ": argument " + name + " contains a NUL byte");
    return false;
  }
  return true;
}

static bool UnixAddress(const FunctionCallbackInfo<Value>& a, const char* fn, sockaddr_un* sa) {
  std::string path;
  if (!StringArg(a, 0, fn, "path", &path)) return false;
  memset(sa, 0, sizeof(*sa));
  if (path.empty() || path.size() >= sizeof(sa->sun_path)) {
    ThrowRange(a.GetIsolate(), std::string(fn) + ": socket path must be 1.." + std::to_string(sizeof(sa->sun_path) - 1) + " bytes, got " + std::to_string(path.size()));
    return false;
  }
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path.data(), path.size());
  return true;
}

static bool SetNonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

// --- unix sockets -----------------------------------------------------------------------------

// listen(path, backlog) -> fd: a non-blocking listening unix stream socket bound to path.
static void Listen(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  sockaddr_un sa;
  double backlog;
  if (!UnixAddress(a, "listen", &sa) || !IntArg(a, 1, "listen", "backlog", 1, 4096, &backlog)) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(iso, "listen: socket", errno);
  if (bind(fd, (sockaddr*)&sa, sizeof(sa)) != 0 || listen(fd, (int)backlog) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(iso, std::string("listen: bind/listen ") + sa.sun_path, err);
  }
  a.GetReturnValue().Set(fd);
}

// connect(path) -> fd: a connected non-blocking unix stream socket (a client, e.g. in tests).
static void Connect(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  sockaddr_un sa;
  if (!UnixAddress(a, "connect", &sa)) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(iso, "connect: socket", errno);
  // blocking connect: a unix socket connects at once or fails
  if (connect(fd, (sockaddr*)&sa, sizeof(sa)) != 0 || !SetNonblock(fd)) {
    int err = errno;
    close(fd);
    return ThrowErrno(iso, std::string("connect ") + sa.sun_path, err);
  }
  a.GetReturnValue().Set(fd);
}

// accept(fd) -> fd, or -1 when no connection is waiting.
static void Accept(const FunctionCallbackInfo<Value>& a) {
  int fd;
  if (!FdArg(a, 0, "accept", &fd)) return;
  int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EINTR) return a.GetReturnValue().Set(-1);
    return ThrowErrno(a.GetIsolate(), "accept", errno);
  }
  a.GetReturnValue().Set(c);
}

// recvmsg(fd, buffer) -> { bytes, fds, truncated }: bytes -1 when nothing is waiting, 0 at end of
// stream. Received fds are close-on-exec. If the kernel truncated the fd list (MSG_CTRUNC), the
// fds that did arrive are closed and `truncated` is true, so the caller can refuse the message.
static void Recvmsg(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  Local<Context> ctx = iso->GetCurrentContext();
  FdBytes b;
  if (!FdBytesArgs(a, "recvmsg", "buffer", &b)) return;
  if (b.len == 0) return ThrowRange(iso, "recvmsg: buffer must not be empty");
  iovec iov = {b.data, b.len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr msg;
  InitMsg(&msg, &iov, control, sizeof(control));
  ssize_t n;
  do n = recvmsg(b.fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) n = -1;
    else if (errno == ECONNRESET) n = 0;
    else return ThrowErrno(iso, "recvmsg", errno);
  }
  Local<Array> fds = Array::New(iso);
  bool truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  uint32_t k = 0;
  for (cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr; c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int rfd;
      memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (truncated) close(rfd);
      else fds->Set(ctx, k++, Integer::New(iso, rfd)).Check();
    }
  }
  if (truncated) fds = Array::New(iso);
  Local<Object> r = Object::New(iso);
  r->Set(ctx, Str(iso, "bytes"), Number::New(iso, (double)n)).Check();
  r->Set(ctx, Str(iso, "fds"), fds).Check();
  r->Set(ctx, Str(iso, "truncated"), v8::Boolean::New(iso, truncated)).Check();
  a.GetReturnValue().Set(r);
}

// sendmsg(fd, bytes, fds?) -> bytes sent, or -1 when the socket buffer is full.
static void Sendmsg(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  Local<Context> ctx = iso->GetCurrentContext();
  FdBytes b;
  if (!FdBytesArgs(a, "sendmsg", "bytes", &b)) return;
  int fds[kMaxFds];
  uint32_t nfds = 0;
  if (a.Length() > 2 && !a[2]->IsUndefined()) {
    if (!a[2]->IsArray()) return ThrowType(iso, "sendmsg: argument fds must be an array of fds");
    Local<Array> arr = a[2].As<Array>();
    if (arr->Length() > kMaxFds) return ThrowRange(iso, "sendmsg: at most " + std::to_string(kMaxFds) + " fds, got " + std::to_string(arr->Length()));
    for (uint32_t i = 0; i < arr->Length(); i++) {
      Local<Value> v = arr->Get(ctx, i).ToLocalChecked();
      double d = v->IsNumber() ? v.As<Number>()->Value() : -1;
      if (!(d >= 0 && d <= 2147483647.0 && d == (double)(int)d)) return ThrowType(iso, "sendmsg: fds[" + std::to_string(i) + "] is not an fd");
      fds[nfds++] = (int)d;
    }
  }
  iovec iov = {b.data, b.len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr msg;
  InitMsg(&msg, &iov, nfds > 0 ? control : nullptr, nfds > 0 ? CMSG_SPACE(sizeof(int) * nfds) : 0);
  if (nfds > 0) {
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(b.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return a.GetReturnValue().Set(-1);
    return ThrowErrno(iso, "sendmsg", errno);
  }
  a.GetReturnValue().Set(Number::New(iso, (double)n));
}

static void Close(const FunctionCallbackInfo<Value>& a) {
  int fd;
  if (!FdArg(a, 0, "close", &fd)) return;
  // EINTR on Linux still closes the fd: never retry
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(a.GetIsolate(), "close(" + std::to_string(fd) + ")", errno);
}

// --- memory ---------------------------------------------------------------------------------------

static void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  munmap(data, length);
}

// mmap(fd, length) -> SharedArrayBuffer over a shared read-write mapping of the fd's first
// `length` bytes. The file must be at least that long (a shorter one would raise SIGBUS on access).
static void Mmap(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  int fd;
  double length;
  if (!FdArg(a, 0, "mmap", &fd) || !IntArg(a, 1, "mmap", "length", 1, (double)v8::TypedArray::kMaxLength, &length)) return;
  struct stat st;
  if (fstat(fd, &st) != 0) return ThrowErrno(iso, "mmap: fstat", errno);
  if (!S_ISREG(st.st_mode)) return ThrowType(iso, "mmap: fd " + std::to_string(fd) + " is not a regular file or memfd");
  if ((double)st.st_size < length)
    return ThrowRange(iso, "mmap: fd " + std::to_string(fd) + " is " + std::to_string((long long)st.st_size) + " bytes, shorter than the " +
                               std::to_string((long long)length) + " bytes to map");
  void* p = mmap(nullptr, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) return ThrowErrno(iso, "mmap", errno);
  std::unique_ptr<v8::BackingStore> store = SharedArrayBuffer::NewBackingStore(p, (size_t)length, Unmap, nullptr);
  a.GetReturnValue().Set(SharedArrayBuffer::New(iso, std::move(store)));
}

// seals(fd) -> the memfd's F_GET_SEALS bits, or -1 for a file that cannot be sealed.
static void Seals(const FunctionCallbackInfo<Value>& a) {
  int fd;
  if (!FdArg(a, 0, "seals", &fd)) return;
  int s = fcntl(fd, F_GET_SEALS);
  if (s < 0 && errno != EINVAL) return ThrowErrno(a.GetIsolate(), "seals", errno);
  a.GetReturnValue().Set(s < 0 ? -1 : s);
}

// --- eventfd and plain fds ---------------------------------------------------------------------

static void Eventfd(const FunctionCallbackInfo<Value>& a) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(a.GetIsolate(), "eventfd", errno);
  a.GetReturnValue().Set(fd);
}

// eventfdRead(fd) -> the counter (events since the last read), 0 when none are waiting.
static void EventfdRead(const FunctionCallbackInfo<Value>& a) {
  int fd;
  if (!FdArg(a, 0, "eventfdRead", &fd)) return;
  uint64_t v = 0;
  ssize_t n;
  do n = read(fd, &v, sizeof(v));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return a.GetReturnValue().Set(0);
    return ThrowErrno(a.GetIsolate(), "eventfdRead(" + std::to_string(fd) + ")", errno);
  }
  if (n != sizeof(v)) return ThrowType(a.GetIsolate(), "eventfdRead: fd " + std::to_string(fd) + " is not an eventfd (read " + std::to_string(n) + " bytes)");
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), (double)v));
}

// eventfdWrite(fd, value) -> true, or false if the counter is full (it never is in practice).
static void EventfdWrite(const FunctionCallbackInfo<Value>& a) {
  int fd;
  double value;
  if (!FdArg(a, 0, "eventfdWrite", &fd) || !IntArg(a, 1, "eventfdWrite", "value", 1, 9007199254740991.0, &value)) return;
  uint64_t v = (uint64_t)value;
  ssize_t n;
  do n = write(fd, &v, sizeof(v));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return a.GetReturnValue().Set(false);
    return ThrowErrno(a.GetIsolate(), "eventfdWrite(" + std::to_string(fd) + ")", errno);
  }
  a.GetReturnValue().Set(true);
}

// eventfdPending(fd) -> true if the counter is not zero: written and not yet read by its consumer.
static void EventfdPending(const FunctionCallbackInfo<Value>& a) {
  int fd;
  if (!FdArg(a, 0, "eventfdPending", &fd)) return;
  pollfd p = {fd, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) return ThrowErrno(a.GetIsolate(), "eventfdPending(" + std::to_string(fd) + ")", errno);
  if ((p.revents & POLLNVAL) != 0) return ThrowErrno(a.GetIsolate(), "eventfdPending(" + std::to_string(fd) + ")", EBADF);
  a.GetReturnValue().Set((p.revents & POLLIN) != 0);
}

static void SetNonblocking(const FunctionCallbackInfo<Value>& a) {
  int fd;
  if (!FdArg(a, 0, "setNonblocking", &fd)) return;
  if (!SetNonblock(fd)) return ThrowErrno(a.GetIsolate(), "setNonblocking(" + std::to_string(fd) + ")", errno);
}

// read(fd, buffer) -> bytes read, -1 when nothing is waiting, 0 at end of file.
// write(fd, bytes) -> bytes written, -1 when the fd would block.
template <bool kWrite>
static void ReadWrite(const FunctionCallbackInfo<Value>& a) {
  const char* fn = kWrite ? "write" : "read";
  FdBytes b;
  if (!FdBytesArgs(a, fn, kWrite ? "bytes" : "buffer", &b)) return;
  ssize_t n;
  do n = kWrite ? write(b.fd, b.data, b.len) : read(b.fd, b.data, b.len);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return a.GetReturnValue().Set(-1);
    return ThrowErrno(a.GetIsolate(), std::string(fn) + "(" + std::to_string(b.fd) + ")", errno);
  }
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), (double)n));
}

// --- TAP ---------------------------------------------------------------------------------------------

// tapOpen(name, vnetHdr) -> { fd, name }: a TAP interface (IFF_TAP | IFF_NO_PI [| IFF_VNET_HDR]).
static void TapOpen(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  Local<Context> ctx = iso->GetCurrentContext();
  std::string name;
  if (!StringArg(a, 0, "tapOpen", "name", &name)) return;
  if (name.size() >= IFNAMSIZ) return ThrowRange(iso, "tapOpen: interface name must be at most " + std::to_string(IFNAMSIZ - 1) + " bytes, got " + std::to_string(name.size()));
  if (a.Length() < 2 || !a[1]->IsBoolean()) return ThrowType(iso, "tapOpen: argument vnetHdr must be a boolean");
  bool vnet = a[1].As<v8::Boolean>()->Value();
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(iso, "tapOpen: open /dev/net/tun", errno);
  ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(iso, "tapOpen: TUNSETIFF " + name, err);
  }
  Local<Object> r = Object::New(iso);
  r->Set(ctx, Str(iso, "fd"), Integer::New(iso, fd)).Check();
  r->Set(ctx, Str(iso, "name"), Str(iso, std::string(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ)))).Check();
  a.GetReturnValue().Set(r);
}

static void TapSetVnetHdrSize(const FunctionCallbackInfo<Value>& a) {
  int fd;
  double size;
  // the kernel accepts sizeof(struct virtio_net_hdr) = 10 and up; 10 and 12 are the ones in use
  if (!FdArg(a, 0, "tapSetVnetHdrSize", &fd) || !IntArg(a, 1, "tapSetVnetHdrSize", "size", 10, 64, &size)) return;
  int s = (int)size;
  if (ioctl(fd, TUNSETVNETHDRSZ, &s) != 0) return ThrowErrno(a.GetIsolate(), "tapSetVnetHdrSize: TUNSETVNETHDRSZ", errno);
}

static void TapSetOffload(const FunctionCallbackInfo<Value>& a) {
  int fd;
  double flags;
  const double known = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO;
  if (!FdArg(a, 0, "tapSetOffload", &fd) || !IntArg(a, 1, "tapSetOffload", "flags", 0, known, &flags)) return;
  if (((unsigned)flags & ~(unsigned)known) != 0) return ThrowRange(a.GetIsolate(), "tapSetOffload: unknown TUN_F_* bits in " + std::to_string((unsigned)flags));
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) != 0) return ThrowErrno(a.GetIsolate(), "tapSetOffload: TUNSETOFFLOAD", errno);
}

// --- event loop: uv_poll on an fd ----------------------------------------------------------------

struct Poll {
  uv_poll_t handle;
  Isolate* iso;
  Global<Function> callback;
  uint32_t id;
  int fd;
};

static std::mutex polls_lock;
static std::map<uint32_t, Poll*> polls;
static std::set<int> polled_fds;  // libuv cannot watch one fd twice in a process's loops
static uint32_t next_poll_id = 1;

static void OnPoll(uv_poll_t* h, int status, int events) {
  Poll* p = static_cast<Poll*>(h->data);
  Isolate* iso = p->iso;
  HandleScope scope(iso);
  Local<Function> fn = p->callback.Get(iso);
  Local<Context> ctx = fn->GetCreationContextChecked();
  Context::Scope cscope(ctx);
  Local<Value> argv[2] = {Integer::New(iso, events), status < 0 ? Str(iso, uv_err_name(status)).As<Value>() : v8::Null(iso).As<Value>()};
  // MakeCallback runs the microtasks and reports an exception as uncaught, as for any I/O callback
  node::MakeCallback(iso, ctx->Global(), fn, 2, argv, node::async_context{0, 0});
}

static void OnClosed(uv_handle_t* h) {
  Poll* p = static_cast<Poll*>(h->data);
  p->callback.Reset();
  delete p;
}

// poll(fd, events, callback(events, error)) -> id. events: 1 readable, 2 writable (UV_READABLE/UV_WRITABLE).
static void PollStart(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  int fd;
  double events;
  if (!FdArg(a, 0, "poll", &fd) || !IntArg(a, 1, "poll", "events", 1, 3, &events)) return;
  if (a.Length() < 3 || !a[2]->IsFunction()) return ThrowType(iso, "poll: argument callback must be a function");
  std::lock_guard<std::mutex> guard(polls_lock);
  if (polled_fds.count(fd)) return ThrowType(iso, "poll: fd " + std::to_string(fd) + " is already polled");
  Poll* p = new Poll();
  p->iso = iso;
  p->fd = fd;
  p->callback.Reset(iso, a[2].As<Function>());
  uv_loop_t* loop = node::GetCurrentEventLoop(iso);
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r != 0) {
    p->callback.Reset();
    delete p;
    return ThrowErrno(iso, "poll: uv_poll_init fd " + std::to_string(fd), -r);
  }
  p->handle.data = p;
  r = uv_poll_start(&p->handle, (int)events, OnPoll);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClosed);
    return ThrowErrno(iso, "poll: uv_poll_start fd " + std::to_string(fd), -r);
  }
  p->id = next_poll_id++;
  polls[p->id] = p;
  polled_fds.insert(fd);
  a.GetReturnValue().Set(Number::New(iso, p->id));
}

// pollStop(id) -> false if the id is not (or no longer) polling. Stop before closing the fd.
static void PollStop(const FunctionCallbackInfo<Value>& a) {
  double id;
  if (!IntArg(a, 0, "pollStop", "id", 0, 4294967295.0, &id)) return;
  std::lock_guard<std::mutex> guard(polls_lock);
  auto it = polls.find((uint32_t)id);
  if (it == polls.end()) return a.GetReturnValue().Set(false);
  Poll* p = it->second;
  polls.erase(it);
  polled_fds.erase(p->fd);
  uv_poll_stop(&p->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClosed);
  a.GetReturnValue().Set(true);
}

// pollUnref(id, unref): an unref'd poll does not keep the process alive (as socket.unref()).
static void PollRef(const FunctionCallbackInfo<Value>& a) {
  double id;
  if (!IntArg(a, 0, "pollRef", "id", 0, 4294967295.0, &id)) return;
  if (a.Length() < 2 || !a[1]->IsBoolean()) return ThrowType(a.GetIsolate(), "pollRef: argument ref must be a boolean");
  std::lock_guard<std::mutex> guard(polls_lock);
  auto it = polls.find((uint32_t)id);
  if (it == polls.end()) return a.GetReturnValue().Set(false);
  uv_handle_t* h = reinterpret_cast<uv_handle_t*>(&it->second->handle);
  if (a[1].As<v8::Boolean>()->Value()) uv_ref(h);
  else uv_unref(h);
  a.GetReturnValue().Set(true);
}

static void Set(Local<Object> exports, Local<Context> ctx, const char* name, v8::FunctionCallback fn) {
  Isolate* iso = ctx->GetIsolate();
  exports->Set(ctx, Str(iso, name), v8::FunctionTemplate::New(iso, fn)->GetFunction(ctx).ToLocalChecked()).Check();
}

}  // namespace vbus_native

// context-aware so that worker threads can load it too
NODE_MODULE_INIT(/* exports, module, context */) {
  using namespace vbus_native;
  Set(exports, context, "listen", Listen);
  Set(exports, context, "connect", Connect);
  Set(exports, context, "accept", Accept);
  Set(exports, context, "recvmsg", Recvmsg);
  Set(exports, context, "sendmsg", Sendmsg);
  Set(exports, context, "close", Close);
  Set(exports, context, "mmap", Mmap);
  Set(exports, context, "seals", Seals);
  Set(exports, context, "eventfd", Eventfd);
  Set(exports, context, "eventfdRead", EventfdRead);
  Set(exports, context, "eventfdWrite", EventfdWrite);
  Set(exports, context, "eventfdPending", EventfdPending);
  Set(exports, context, "setNonblocking", SetNonblocking);
  Set(exports, context, "read", ReadWrite<false>);
  Set(exports, context, "write", ReadWrite<true>);
  Set(exports, context, "tapOpen", TapOpen);
  Set(exports, context, "tapSetVnetHdrSize", TapSetVnetHdrSize);
  Set(exports, context, "tapSetOffload", TapSetOffload);
  Set(exports, context, "poll", PollStart);
  Set(exports, context, "pollStop", PollStop);
  Set(exports, context, "pollRef", PollRef);
}
