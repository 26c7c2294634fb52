#include "dataset/demo_data.h"

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "dataset/copy_loader.h"

namespace psvc::dataset {

void LoadDemoData(pg_conn* conn) {
  const std::string sql(DemoDataSql());
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn, sql.c_str()), &PQclear);
  if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
    const std::string error = PQerrorMessage(conn);
    // A failed statement leaves the script's transaction open and aborted: close it.
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) PQclear(PQexec(conn, "ROLLBACK"));
    throw LoadError("loading demo data: " + error);
  }
}

}  // namespace psvc::dataset
