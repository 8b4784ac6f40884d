# What Excel's "Unicode text" and PowerShell write: UTF-16 with a byte order mark.
text = 'id,name\n1,Zoë\n2,Ana\n'
open('le.csv', 'wb').write(text.encode('utf-16'))          # BOM FF FE, little-endian
open('be.jsonl', 'wb').write(b'\xfe\xff' + '{"id": 1}\n'.encode('utf-16-be'))
