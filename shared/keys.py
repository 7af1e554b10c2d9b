"""Prints a new AES key for CIPHER_KEY (eventsourcing's AESCipher, 256-bit)."""
from eventsourcing.cryptography import AESCipher

if __name__ == "__main__":
    print(AESCipher.create_key(num_bytes=32))
