#include "file_descriptor.h"

#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace propbridge::billing {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

FdReadBuffer::int_type FdReadBuffer::underflow() {
  ssize_t n;
  do {
    n = ::read(fd_, buffer_.data(), buffer_.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw std::system_error(errno, std::generic_category(), "read");
  if (n == 0) return traits_type::eof();
  setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
  return traits_type::to_int_type(*gptr());
}

FdReadBuffer::pos_type FdReadBuffer::seekoff(off_type offset, std::ios_base::seekdir from,
                                             std::ios_base::openmode which) {
  if (from == std::ios_base::cur) {
    // The descriptor is ahead of the reader by what is buffered and not yet read.
    offset -= egptr() - gptr();
  }
  int whence = from == std::ios_base::beg   ? SEEK_SET
               : from == std::ios_base::cur ? SEEK_CUR
                                            : SEEK_END;
  if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
  off_t at = ::lseek(fd_, offset, whence);
  if (at < 0) return pos_type(off_type(-1));
  setg(buffer_.data(), buffer_.data(), buffer_.data());
  return pos_type(at);
}

FdReadBuffer::pos_type FdReadBuffer::seekpos(pos_type position, std::ios_base::openmode which) {
  return seekoff(off_type(position), std::ios_base::beg, which);
}

}  // namespace propbridge::billing
