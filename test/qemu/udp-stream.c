/* udp-stream DEST PORT SIZE COUNT: send COUNT UDP datagrams of SIZE bytes to DEST:PORT as fast as
 * the socket takes them, then print how many left. Built static (gcc -static) into the test VM's
 * initramfs, because busybox has no UDP sender. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: udp-stream DEST PORT SIZE COUNT\n");
    return 2;
  }
  int size = atoi(argv[3]), count = atoi(argv[4]);
  if (size < 0 || size > 65507 || count < 0) return 2;
  struct sockaddr_in to;
  memset(&to, 0, sizeof(to));
  to.sin_family = AF_INET;
  to.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return 1;
  char *buf = calloc(1, size ? size : 1);
  int sent = 0;
  for (int i = 0; i < count; i++)
    if (sendto(s, buf, size, 0, (struct sockaddr *)&to, sizeof(to)) == size) sent++;
  printf("VBUS-UDP-SENT %d\n", sent);
  return 0;
}
