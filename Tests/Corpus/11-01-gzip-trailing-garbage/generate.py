# A complete gzip member followed by bytes that are not gzip (gzread skips them silently).
import gzip
open('t.csv.gz', 'wb').write(gzip.compress(b'id,v\n1,a\n2,b\n') + b'3,c\n4,d\n')
