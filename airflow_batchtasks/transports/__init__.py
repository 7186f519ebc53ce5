"""Where files come from and go to: local, SFTP (paramiko and asyncssh), FTP, SMB, and query/script locations.

One module per protocol; ``base`` at the bottom (interfaces, atomic-put names,
wildcards), ``registry`` on top (pick by type). Usable without an operator.
"""
