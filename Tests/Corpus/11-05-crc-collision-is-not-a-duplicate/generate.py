# Writes a.csv and b.csv: different rows, same length, same CRC-32 (the fingerprint pgsink used to
# keep). CRC-32 is affine over GF(2) for messages of one length, so the difference D = a ^ b must
# satisfy crc(D) == crc(zeros); D flips one letter of a row and 35 low bits of seven letters.
import zlib
head = b"id,code\n1,alpha\n2,"
free_at = len(head)
a = head + b"@@@@@@@" + b"\n3,omega\n"
n = len(a)
base = zlib.crc32(bytes(n))
def lin(d):  # the linear part of crc over messages of length n
    return zlib.crc32(d) ^ base
def vec(positions_bits):
    d = bytearray(n)
    for pos, bit in positions_bits:
        d[pos] ^= 1 << bit
    return bytes(d)
target = lin(vec([(n - 3, 0)]))  # flip a bit of "omega"'s 'g' -> 'f'
cols = [((free_at + i, b),) for i in range(7) for b in range(5)]
# Gaussian elimination: find a subset of cols whose lin() xors to target.
rows = [(lin(vec(c)), 1 << k) for k, c in enumerate(cols)]
basis = {}
for v, m in rows:
    for bit in reversed(range(32)):
        if not (v >> bit) & 1: continue
        if bit in basis: bv, bm = basis[bit]; v ^= bv; m ^= bm
        else: basis[bit] = (v, m); break
t, m = target, 0
for bit in reversed(range(32)):
    if (t >> bit) & 1:
        bv, bm = basis[bit]; t ^= bv; m ^= bm
assert t == 0
flips = [(n - 3, 0)] + [cols[k][0] for k in range(len(cols)) if (m >> k) & 1]
b = bytes(x ^ y for x, y in zip(a, vec(flips)))
assert a != b and len(a) == len(b) and zlib.crc32(a) == zlib.crc32(b)
open("a.csv", "wb").write(a); open("b.csv", "wb").write(b)
