# Excel's "Unicode text": UTF-16 little-endian with a byte order mark, tab-separated.
open('t.csv', 'wb').write('id\tname\r\n1\tZoë\r\n2\t€\r\n'.encode('utf-16'))
