ALTER INDEX {{ from }} RENAME TO {{ to }};
