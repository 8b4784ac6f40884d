# Whole deflate streams whose gzip trailers disagree with the data: one CRC-32 byte changed, or
# the length changed. gzread reports these too; inflate must keep checking them.
import gzip
data = bytearray(gzip.compress(b'id,v\n1,a\n2,b\n'))
crc = bytearray(data); crc[-8] ^= 0xFF
open('crc.csv.gz', 'wb').write(crc)
size = bytearray(data); size[-4] ^= 0x01
open('size.csv.gz', 'wb').write(size)
