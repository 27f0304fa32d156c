"""Sends one VXLAN packet carrying an ICMP echo request, as an intruder on the underlay would.
argv: destination address (IPv4, or IPv6 with %interface), VXLAN id, inner destination MAC, inner
source IPv4, inner destination IPv4. For the tests' own namespaces only."""
import socket, struct, sys

dst, vni, mac, src_ip, dst_ip = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def checksum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

icmp = struct.pack('!BBHHH', 8, 0, 0, 0x1234, 1) + b'intruder'
icmp = icmp[:2] + struct.pack('!H', checksum(icmp)) + icmp[4:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
eth = bytes.fromhex(mac.replace(':', '')) + bytes.fromhex('020000000099') + b'\x08\x00'
vxlan = struct.pack('!II', 0x08000000, vni << 8)
family = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
addr = socket.getaddrinfo(dst, 4789, family, socket.SOCK_DGRAM)[0][4]
for _ in range(3):
    s.sendto(vxlan + eth + ip + icmp, addr)
