/* udp-echo DEST PORT MIN MAX: for every payload size MIN..MAX, send one UDP datagram with a
 * pattern that depends on the size to DEST:PORT (an RFC 862 echo service) and wait for the same
 * bytes to come back (up to 3 tries of 2 s each). Prints one summary line and exits 0 only if every
 * size came back intact. Built static for i386 (gcc -m32 -static) into the v86 guest's initramfs,
 * because busybox has no UDP client. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static unsigned char out[65536], in[65536];

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: udp-echo DEST PORT MIN MAX\n");
    return 2;
  }
  int min = atoi(argv[3]), max = atoi(argv[4]);
  if (min < 0 || max > 65507 || min > max) return 2;
  struct sockaddr_in to;
  memset(&to, 0, sizeof(to));
  to.sin_family = AF_INET;
  to.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) return 1;
  struct timeval tv = {2, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int ok = 0, lost = 0, bad = 0, retries = 0;
  double start = now_us();
  for (int size = min; size <= max; size++) {
    for (int i = 0; i < size; i++) out[i] = (unsigned char)(size * 31 + i * 7);
    int got = 0;
    for (int attempt = 0; attempt < 3 && !got; attempt++) {
      if (attempt > 0) retries++;
      if (send(s, out, size, 0) != size) continue;
      for (;;) {
        int n = recv(s, in, sizeof(in), 0);
        if (n < 0) break; /* timeout: send again */
        if (n == size && memcmp(in, out, size) == 0) {
          got = 1;
          break;
        }
        /* a late echo of an earlier size: not ours, keep waiting */
        if (n != size) continue;
        bad++;
        break;
      }
    }
    if (got) ok++;
    else {
      lost++;
      printf("VBUS-UDP-LOST %d\n", size);
    }
  }
  printf("VBUS-UDP-ECHO dest=%s sizes=%d ok=%d lost=%d bad=%d retries=%d ms=%.0f\n", argv[1], max - min + 1, ok, lost, bad, retries,
         (now_us() - start) / 1000);
  return ok == max - min + 1 ? 0 : 1;
}
